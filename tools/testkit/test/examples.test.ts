import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Every package ships a runnable example a newcomer can copy. They import the packages by name, so they run
// against the built dist/ exactly as a user's program would (`npm test` builds before it runs vitest).
const root = join(import.meta.dirname, '..', '..', '..');
const examples = readdirSync(join(root, 'examples')).filter((name) =>
  existsSync(join(root, 'examples', name, 'index.ts')),
);

function run(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('examples', () => {
  it('has one example per published package', () => {
    const packages = readdirSync(join(root, 'packages'));
    expect(examples.sort()).toEqual(packages.sort());
  });

  for (const name of examples) {
    it(`examples/${name} runs to completion against the built package`, async () => {
      expect(existsSync(join(root, 'packages', name, 'dist', 'index.js')), `build @cryptoscalp/${name} first`).toBe(
        true,
      );
      const { code, output } = await run(join('examples', name, 'index.ts'));
      expect(code, output).toBe(0);
    }, 60_000);
  }
});
