#!/usr/bin/env node
// Package checks for every publishable workspace: `publint --strict` and `attw --pack`
// (Are the Types Wrong?), run against the built dist/. `npm test` runs this after the build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules', '.bin', name);
const packages = readdirSync(join(root, 'packages'))
  .map((dir) => join(root, 'packages', dir))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .filter((dir) => !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private);

const failures = [];
for (const dir of packages) {
  const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (!existsSync(join(dir, 'dist'))) {
    failures.push(`${name}: no dist/ (run npm run build first)`);
    continue;
  }
  for (const [label, command, args] of [
    ['publint --strict', bin('publint'), ['--strict', dir]],
    ['attw --pack', bin('attw'), ['--pack', dir, '--format', 'table-flipped']],
  ]) {
    const result = spawnSync(command, args, { cwd: dir, encoding: 'utf8' });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
    if (result.status === 0) {
      console.log(`ok   ${name}: ${label}`);
    } else {
      failures.push(`${name}: ${label}`);
      console.log(`FAIL ${name}: ${label}\n${output}\n`);
    }
  }
}

if (failures.length > 0) {
  console.error(`\npackage checks failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`package checks passed for ${packages.length} packages`);
