#!/usr/bin/env node
// Dependency audit gate: no known advisory of severity high or critical (or --level) in the production
// dependencies (package-lock.json without the dev-only packages).
//
//   node scripts/audit-gate.mjs                          # npm audit --omit=dev; if the registry's audit endpoint
//                                                        # does not answer: the advisories given, else exit 2
//   node scripts/audit-gate.mjs --advisories <path>      # also/instead: OSV records (a .json file holding one record
//                                                        # or an array, or a directory of them, e.g. a checkout of
//                                                        # github/advisory-database or osv.dev's npm/all.zip unpacked)
//   node scripts/audit-gate.mjs --offline --advisories <path>   # the lockfile check only, no network
//   options: --level moderate|high|critical (default high), --lockfile <path> (default ./package-lock.json)
//   AUDIT_ADVISORIES=<path> is the same as --advisories.
//
// Exit codes: 0 audited and clean; 1 advisories found (each named: severity, package@version, id, title, url);
// 2 could not audit (the endpoint failed and no advisory data was given, or bad arguments). A gate that could not
// look is never reported as passing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const SEVERITIES = ['low', 'moderate', 'high', 'critical'];

function parseArgs(argv) {
  const o = { level: 'high', lockfile: 'package-lock.json', advisories: process.env.AUDIT_ADVISORIES, offline: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--offline') o.offline = true;
    else if (a === '--level' || a === '--lockfile' || a === '--advisories') {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      o[a.slice(2)] = v;
    } else fail(`unknown argument ${a}`);
  }
  if (!SEVERITIES.includes(o.level)) fail(`--level must be one of ${SEVERITIES.join(', ')}`);
  if (o.offline && !o.advisories) fail('--offline needs --advisories <OSV file or directory>');
  return o;
}

function fail(message) {
  console.error(`audit-gate: ${message}`);
  process.exit(2);
}

/** The production packages of a v2/v3 lockfile: every installed package not marked dev-only, with its path. */
export function productionPackages(lock) {
  if (lock === null || typeof lock !== 'object' || typeof lock.packages !== 'object')
    throw new Error('not a lockfile v2/v3 (no "packages")');
  const out = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.includes('node_modules/') || entry.link === true || entry.dev === true) continue;
    if (typeof entry.version !== 'string') continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    out.push({ name, version: entry.version, path });
  }
  return out;
}

/** Semantic version comparison (semver 2.0.0 precedence; build metadata ignored). Unparsable versions sort first. */
export function compareVersions(a, b) {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa === undefined || pb === undefined) return pa === pb ? 0 : pa === undefined ? -1 : 1;
  for (let i = 0; i < 3; i++) if (pa.core[i] !== pb.core[i]) return pa.core[i] < pb.core[i] ? -1 : 1;
  if (pa.pre.length === 0 || pb.pre.length === 0)
    return pa.pre.length === pb.pre.length ? 0 : pa.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.max(pa.pre.length, pb.pre.length); i++) {
    const x = pa.pre[i];
    const y = pb.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return Number(x) < Number(y) ? -1 : 1;
    if (nx !== ny) return nx ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

function parseVersion(v) {
  if (v === '0') return { core: [0, 0, 0], pre: [] };
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(String(v).trim());
  if (m === null) return undefined;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] === undefined ? [] : m[4].split('.') };
}

/** Whether `version` is affected by one OSV `affected` entry (`versions` list, SEMVER/ECOSYSTEM ranges). */
export function isAffected(affected, version) {
  if (Array.isArray(affected.versions) && affected.versions.includes(version)) return true;
  for (const range of affected.ranges ?? []) {
    if (range.type !== 'SEMVER' && range.type !== 'ECOSYSTEM') continue;
    const events = [...(range.events ?? [])].sort((x, y) => compareVersions(eventVersion(x), eventVersion(y)));
    let hit = false;
    for (const e of events) {
      if (e.introduced !== undefined && compareVersions(version, e.introduced) >= 0) hit = true;
      if (e.fixed !== undefined && compareVersions(version, e.fixed) >= 0) hit = false;
      if (e.last_affected !== undefined && compareVersions(version, e.last_affected) > 0) hit = false;
    }
    if (hit) return true;
  }
  return false;
}

function eventVersion(e) {
  return e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '0';
}

/** The severity of an OSV record, lowercase; GitHub's `database_specific.severity` (MODERATE, HIGH, ...). */
export function severityOf(record) {
  const s = String(record.database_specific?.severity ?? record.affected?.[0]?.ecosystem_specific?.severity ?? '');
  const lower = s.toLowerCase();
  return SEVERITIES.includes(lower) ? lower : undefined;
}

/** OSV records from a file (one record or an array) or a directory of such files, recursively. */
export function loadAdvisories(path) {
  const out = [];
  const visit = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) visit(join(p, name));
      return;
    }
    if (!p.endsWith('.json')) return;
    const data = JSON.parse(readFileSync(p, 'utf8'));
    for (const r of Array.isArray(data) ? data : [data]) if (r && typeof r === 'object' && r.id) out.push(r);
  };
  visit(path);
  return out;
}

/**
 * Production packages affected by `advisories` at `level` or above. A record without a severity is counted as high
 * (e.g. a malicious-package record): unknown is not safe.
 */
export function lockfileFindings(packages, advisories, level) {
  const byName = new Map();
  for (const p of packages) {
    const list = byName.get(p.name) ?? [];
    list.push(p);
    byName.set(p.name, list);
  }
  const min = SEVERITIES.indexOf(level);
  const findings = [];
  for (const r of advisories) {
    if (r.withdrawn) continue;
    const severity = severityOf(r) ?? 'high';
    if (SEVERITIES.indexOf(severity) < min) continue;
    for (const a of r.affected ?? []) {
      if (a.package?.ecosystem !== 'npm') continue;
      for (const p of byName.get(a.package.name) ?? [])
        if (isAffected(a, p.version))
          findings.push({
            severity: severityOf(r) ?? 'unknown (counted as high)',
            name: p.name,
            version: p.version,
            path: p.path,
            id: r.id,
            title: r.summary ?? r.details?.split('\n')[0] ?? '',
            url: r.references?.find((x) => x.type === 'ADVISORY')?.url ?? `https://osv.dev/vulnerability/${r.id}`,
          });
    }
  }
  return findings;
}

/** `npm audit --omit=dev --json`: the findings at `level` or above, or `{ unavailable }` when the endpoint failed. */
function npmAudit(level, cwd) {
  const r = spawnSync('npm', ['audit', '--omit=dev', '--json'], { cwd, encoding: 'utf8', timeout: 120_000 });
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    return {
      unavailable: `npm audit printed no JSON (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').pop()}`,
    };
  }
  if (report.vulnerabilities === undefined || report.error !== undefined || report.statusCode !== undefined)
    return { unavailable: report.message ?? report.error?.summary ?? 'npm audit answered without a report' };
  const min = SEVERITIES.indexOf(level);
  const findings = [];
  for (const [name, v] of Object.entries(report.vulnerabilities))
    for (const via of v.via ?? [])
      if (typeof via === 'object' && SEVERITIES.indexOf(via.severity) >= min)
        findings.push({
          severity: via.severity,
          name: via.name ?? name,
          version: via.range ?? '',
          path: (v.nodes ?? []).join(', '),
          id: String(via.source ?? ''),
          title: via.title ?? '',
          url: via.url ?? '',
        });
  return { findings, total: report.metadata?.dependencies?.prod };
}

function report(findings) {
  for (const f of findings)
    console.error(`${f.severity.toUpperCase()} ${f.name}@${f.version} (${f.path}) ${f.id}: ${f.title} ${f.url}`.trim());
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const lockPath = resolve(o.lockfile);
  if (!existsSync(lockPath)) fail(`no lockfile at ${lockPath}`);
  let packages;
  try {
    packages = productionPackages(JSON.parse(readFileSync(lockPath, 'utf8')));
  } catch (e) {
    fail(`${lockPath}: ${e.message}`);
  }
  const findings = [];
  const sources = [];
  let unavailable;
  if (!o.offline) {
    const audited = npmAudit(o.level, resolve(lockPath, '..'));
    if (audited.unavailable !== undefined) unavailable = audited.unavailable;
    else {
      findings.push(...audited.findings);
      sources.push('npm audit');
    }
  }
  if (o.advisories) {
    if (!existsSync(o.advisories)) fail(`no advisory data at ${o.advisories}`);
    const advisories = loadAdvisories(o.advisories);
    findings.push(...lockfileFindings(packages, advisories, o.level));
    sources.push(`${advisories.length} OSV records from ${o.advisories}`);
  }
  if (sources.length === 0)
    fail(
      `could not audit: the registry's audit endpoint failed (${unavailable}) and no advisory data was given ` +
        '(--advisories <OSV JSON file or directory>, or AUDIT_ADVISORIES)',
    );
  if (unavailable !== undefined)
    console.error(`audit-gate: npm audit unavailable (${unavailable}); lockfile check only`);
  if (findings.length > 0) {
    report(findings);
    console.error(
      `audit-gate: ${findings.length} advisories of severity ${o.level} or above in production dependencies`,
    );
    process.exit(1);
  }
  console.log(
    `audit-gate: ${packages.length} production packages, no advisory of severity ${o.level} or above (${sources.join('; ')})`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) main();
