#!/usr/bin/env node
// The npm registry this project's machines reach serves only the linux-x64 builds of some packages' platform
// binaries (Biome's CLI, Rollup's native module). `npm install` then writes a lockfile without the other
// platforms' optional packages, and `npm ci` rejects that lockfile as out of sync. This adds the missing
// optional entries, with the os/cpu/libc that make npm skip them on other platforms, exactly as npm writes them
// when the registry serves them. Idempotent; run it after `npm install` changes the lockfile.
//   node scripts/lockfile-platforms.mjs           # fix package-lock.json
//   node scripts/lockfile-platforms.mjs --check   # fail if it needs fixing (part of `npm run lint`)
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

/** os, cpu and libc from a platform package name such as `cli-linux-arm64-musl` or `rollup-win32-x64-msvc`. */
function platformOf(name) {
  const base = name.split('/').pop();
  const os = ['android', 'darwin', 'freebsd', 'linux', 'openbsd', 'openharmony', 'win32', 'sunos', 'aix'].find((o) =>
    new RegExp(`(^|-)${o}(-|$)`).test(base),
  );
  const cpus = {
    arm64: 'arm64',
    x64: 'x64',
    ia32: 'ia32',
    'arm-': 'arm',
    arm: 'arm',
    loong64: 'loong64',
    ppc64: 'ppc64',
    riscv64: 'riscv64',
    s390x: 's390x',
  };
  let cpu;
  for (const [key, value] of Object.entries(cpus)) {
    if (new RegExp(`-${key.replace('-', '')}(-|$)`).test(base)) {
      cpu = value;
      break;
    }
  }
  const libc = /-musl(eabihf)?$/.test(base)
    ? 'musl'
    : /-gnu(eabihf)?$/.test(base) && os === 'linux'
      ? 'glibc'
      : undefined;
  return { os, cpu, libc };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  if (!entry.optionalDependencies || !path.startsWith('node_modules/')) continue;
  for (const [dep, spec] of Object.entries(entry.optionalDependencies)) {
    const nested = `${path}/node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (packages[nested] || packages[hoisted]) continue;
    const { os, cpu, libc } = platformOf(dep);
    // Only platform binaries; anything else missing is a real lockfile problem for `npm ci` to report.
    if (!os || !cpu || !/^\d+\.\d+\.\d+/.test(spec)) continue;
    packages[hoisted] = {
      version: spec,
      cpu: [cpu],
      ...(entry.dev ? { dev: true } : {}),
      ...(libc ? { libc: [libc] } : {}),
      optional: true,
      os: [os],
    };
    added++;
  }
}

if (process.argv.includes('--check')) {
  if (added > 0) {
    console.error(
      `lockfile: ${added} optional platform entries are missing, so \`npm ci\` would reject package-lock.json;`,
    );
    console.error('run `node scripts/lockfile-platforms.mjs` and commit the result');
    process.exit(1);
  }
  console.log('lockfile: optional platform entries complete');
  process.exit(0);
}

const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b, 'en'))),
);
lock.packages = sorted;
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: added ${added} optional platform entries`);
