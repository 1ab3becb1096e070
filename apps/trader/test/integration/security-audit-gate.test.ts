import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `scripts/audit-gate.mjs` (`npm run audit:deps`), its lockfile check against OSV records: the registry's audit
 * endpoint is not used here (`--offline`), so these runs need no network. The records are in the format of
 * github/advisory-database and osv.dev.
 */
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const gate = join(root, 'scripts/audit-gate.mjs');
const dir = mkdtempSync(join(tmpdir(), 'audit-gate-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lockfile = {
  name: 'fixture',
  lockfileVersion: 3,
  packages: {
    '': { name: 'fixture', dependencies: { lib: '^1.0.0', other: '2.0.0' }, devDependencies: { devlib: '^1.0.0' } },
    'node_modules/lib': { version: '1.4.2' },
    'node_modules/other': { version: '2.0.0-rc.2' },
    'node_modules/other/node_modules/lib': { version: '0.9.0' },
    'node_modules/devlib': { version: '1.0.0', dev: true },
    'node_modules/@scope/pkg': { version: '3.1.0' },
    'node_modules/mine': { resolved: 'packages/mine', link: true },
  },
};

let n = 0;
/** Runs the gate on `lock` with `records` (one file each); returns exit code and output. */
function run(records: object[], args: string[] = [], lock: object | string = lockfile) {
  const at = join(dir, `case-${n++}`);
  mkdirSync(join(at, 'advisories', 'nested'), { recursive: true });
  records.forEach((r, i) => {
    writeFileSync(join(at, 'advisories', i % 2 === 0 ? '' : 'nested', `r${i}.json`), JSON.stringify(r));
  });
  const lockPath = typeof lock === 'string' ? lock : join(at, 'package-lock.json');
  if (typeof lock !== 'string') writeFileSync(lockPath, JSON.stringify(lock));
  const r = spawnSync(
    process.execPath,
    [gate, '--offline', '--lockfile', lockPath, '--advisories', join(at, 'advisories'), ...args],
    { encoding: 'utf8', timeout: 30_000 },
  );
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function record(
  id: string,
  name: string,
  severity: string | undefined,
  events: Record<string, string>[],
  extra: object = {},
): object {
  return {
    id,
    summary: `${name} advisory ${id}`,
    ...(severity === undefined ? {} : { database_specific: { severity } }),
    affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events }] }],
    references: [{ type: 'ADVISORY', url: `https://github.com/advisories/${id}` }],
    ...extra,
  };
}

describe('audit gate (lockfile check)', () => {
  it('passes when no production package is in an affected range, and says what it checked', () => {
    const r = run([
      record('GHSA-0001', 'lib', 'CRITICAL', [{ introduced: '0' }, { fixed: '0.9.0' }]),
      record('GHSA-0002', 'lib', 'HIGH', [{ introduced: '1.5.0' }]),
    ]);
    expect(r.out).toMatch(/4 production packages, no advisory of severity high or above \(2 OSV records/);
    expect(r.code).toBe(0);
  });

  it('fails naming the advisory, the package, its version and where it is installed', () => {
    const r = run([record('GHSA-0003', 'lib', 'HIGH', [{ introduced: '1.0.0' }, { fixed: '1.4.3' }])]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      'HIGH lib@1.4.2 (node_modules/lib) GHSA-0003: lib advisory GHSA-0003 https://github.com/advisories/GHSA-0003',
    );
    expect(r.out).not.toContain('0.9.0');
  });

  it('finds nested copies, scoped names, last_affected and exact version lists', () => {
    const r = run([
      record('GHSA-0004', 'lib', 'CRITICAL', [{ introduced: '0' }, { last_affected: '0.9.0' }]),
      {
        id: 'GHSA-0005',
        summary: 'scoped',
        database_specific: { severity: 'HIGH' },
        affected: [{ package: { ecosystem: 'npm', name: '@scope/pkg' }, versions: ['3.1.0'] }],
      },
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('CRITICAL lib@0.9.0 (node_modules/other/node_modules/lib) GHSA-0004');
    expect(r.out).toContain('HIGH @scope/pkg@3.1.0 (node_modules/@scope/pkg) GHSA-0005');
    expect(r.out).not.toContain('lib@1.4.2');
  });

  it('orders prereleases before their release', () => {
    // 2.0.0-rc.2 is before 2.0.0 (affected up to the fix) and after 2.0.0-rc.1.
    expect(run([record('GHSA-0006', 'other', 'HIGH', [{ introduced: '1.0.0' }, { fixed: '2.0.0' }])]).code).toBe(1);
    expect(run([record('GHSA-0007', 'other', 'HIGH', [{ introduced: '0' }, { fixed: '2.0.0-rc.10' }])]).code).toBe(1);
    expect(run([record('GHSA-0008', 'other', 'HIGH', [{ introduced: '0' }, { fixed: '2.0.0-rc.1' }])]).code).toBe(0);
  });

  it('leaves out dev-only packages, other ecosystems and withdrawn records', () => {
    const r = run([
      record('GHSA-0009', 'devlib', 'CRITICAL', [{ introduced: '0' }]),
      record('GHSA-0010', 'lib', 'CRITICAL', [{ introduced: '0' }], { withdrawn: '2026-01-01T00:00:00Z' }),
      {
        id: 'PYSEC-1',
        database_specific: { severity: 'CRITICAL' },
        affected: [
          {
            package: { ecosystem: 'PyPI', name: 'lib' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
          },
        ],
      },
    ]);
    expect(r.code).toBe(0);
  });

  it('applies --level, and counts a record without severity as high', () => {
    const moderate = record('GHSA-0011', 'lib', 'MODERATE', [{ introduced: '0' }]);
    expect(run([moderate]).code).toBe(0);
    expect(run([moderate], ['--level', 'moderate']).code).toBe(1);
    const unknown = run([record('MAL-0001', 'lib', undefined, [{ introduced: '0' }])]);
    expect(unknown.code).toBe(1);
    expect(unknown.out).toContain('UNKNOWN (COUNTED AS HIGH) lib@1.4.2');
  });

  it('reads the repository lockfile: a planted advisory on a production dependency of the trader fails the gate', () => {
    const r = run(
      [record('GHSA-0012', 'fastify', 'CRITICAL', [{ introduced: '0' }])],
      [],
      join(root, 'package-lock.json'),
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/CRITICAL fastify@\d+\.\d+\.\d+ \(node_modules\/fastify\) GHSA-0012/);
    // A devDependency of the repository (vitest) is not a production package.
    expect(
      run([record('GHSA-0013', 'vitest', 'CRITICAL', [{ introduced: '0' }])], [], join(root, 'package-lock.json')).code,
    ).toBe(0);
  });

  it('exits 2 when it cannot audit, never 0', () => {
    const r = spawnSync(process.execPath, [gate, '--offline'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--offline needs --advisories/);
    expect(spawnSync(process.execPath, [gate, '--level', 'severe'], { encoding: 'utf8' }).status).toBe(2);
    expect(run([], [], join(dir, 'missing.json')).code).toBe(2);
  });
});
