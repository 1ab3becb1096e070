import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The image's entrypoint (deploy/image/entrypoint.mjs) on the host: it is copied into a directory laid out as the
// image's /app, where apps/trader/dist/main.js is a program that prints the environment the trader would get.
const entrypoint = fileURLToPath(new URL('../image/entrypoint.mjs', import.meta.url));
const app = mkdtempSync(join(tmpdir(), 'entrypoint-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));
copyFileSync(entrypoint, join(app, 'entrypoint.mjs'));
mkdirSync(join(app, 'apps/trader/dist'), { recursive: true });
writeFileSync(
  join(app, 'apps/trader/dist/main.js'),
  'const pick = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(DATABASE|REDIS)_URL/.test(k)));\nconsole.log(JSON.stringify(pick));\n',
);
writeFileSync(join(app, 'package.json'), '{"type":"module"}\n');

function run(env: Record<string, string>) {
  return spawnSync(process.execPath, [join(app, 'entrypoint.mjs')], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('image entrypoint', () => {
  it('turns NAME_FILE into NAME (one trailing line break dropped) and removes NAME_FILE before the trader starts', () => {
    const secret = join(app, 'db-url');
    writeFileSync(secret, 'postgres://trader:s3cret@db:5432/trader\n');
    const r = run({ DATABASE_URL_FILE: secret });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ DATABASE_URL: 'postgres://trader:s3cret@db:5432/trader' });
  });

  it('refuses NAME and NAME_FILE together with exit 2, in text by default', () => {
    const r = run({ REDIS_URL: 'redis://a', REDIS_URL_FILE: join(app, 'db-url') });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('entrypoint: both REDIS_URL and REDIS_URL_FILE are set; keep one\n');
  });

  it("with TRADER_LOG_FORMAT=json a refusal is one JSON line at error, in the trader's shape", () => {
    const r = run({
      TRADER_LOG_FORMAT: 'json',
      TRADER_ROLE: 'engine',
      TRADER_INSTANCE_ID: 'engine-1',
      DATABASE_URL_FILE: join(app, 'missing'),
    });
    expect(r.status).toBe(2);
    const lines = r.stderr.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const o = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(['level', 'time', 'role', 'instance', 'pid', 'msg']);
    expect(o).toMatchObject({ level: 'error', role: 'engine', instance: 'engine-1', pid: r.pid });
    expect(o.msg).toMatch(/^entrypoint: DATABASE_URL_FILE: cannot read .*missing: ENOENT/);
    expect(Number.isInteger(o.time)).toBe(true);
  });
});
