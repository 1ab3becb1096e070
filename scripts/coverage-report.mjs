#!/usr/bin/env node
// Prints line/branch/function coverage per package from vitest's json-summary report.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const file = join(root, 'coverage', 'coverage-summary.json');
if (!existsSync(file)) {
  console.error('coverage: no coverage/coverage-summary.json (run vitest with --coverage)');
  process.exit(1);
}
const summary = JSON.parse(readFileSync(file, 'utf8'));
const perPackage = new Map();
for (const [path, metrics] of Object.entries(summary)) {
  if (path === 'total') continue;
  const match = /^(?:packages|apps)\/([^/]+)\//.exec(relative(root, path));
  if (!match) continue;
  const acc = perPackage.get(match[1]) ?? { lines: [0, 0], branches: [0, 0], functions: [0, 0] };
  for (const key of Object.keys(acc)) {
    acc[key][0] += metrics[key].covered;
    acc[key][1] += metrics[key].total;
  }
  perPackage.set(match[1], acc);
}
const pct = ([covered, total]) => (total === 0 ? '   n/a' : `${((covered / total) * 100).toFixed(1).padStart(5)}%`);
console.log('\ncoverage per package   lines  branches  functions');
for (const [name, acc] of [...perPackage].sort()) {
  console.log(`  ${name.padEnd(18)} ${pct(acc.lines)}   ${pct(acc.branches)}     ${pct(acc.functions)}`);
}
