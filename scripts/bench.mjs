#!/usr/bin/env node
// Runs every bench file (packages/*/bench/*.ts, apps/*/bench/*.ts that call reportBench) in its own process with tsx,
// collects the BENCH_RESULT lines they print (see tools/testkit/src/bench.ts), and writes
// bench-results/results.json and bench-results/summary.md: each figure beside the baseline
// measured in the same run, as a ratio.
//
//   npm run bench                 # everything
//   npm run bench -- cache health # only benches whose path contains one of the words
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const PREFIX = 'BENCH_RESULT ';
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 180_000);
const filters = process.argv.slice(2);

const files = [];
for (const group of ['packages', 'apps']) {
  const groupDir = join(root, group);
  if (!existsSync(groupDir)) continue;
  for (const name of readdirSync(groupDir).sort()) {
    const benchDir = join(groupDir, name, 'bench');
    if (!existsSync(benchDir)) continue;
    for (const file of readdirSync(benchDir).sort()) {
      if (!/\.(ts|mts|js|mjs)$/.test(file) || file.startsWith('_')) continue;
      const path = join(benchDir, file);
      // A bench reports through reportBench(); other files in bench/ are its helpers (harnesses, child servers).
      if (!readFileSync(path, 'utf8').includes('reportBench(')) continue;
      if (filters.length === 0 || filters.some((f) => relative(root, path).includes(f))) files.push(path);
    }
  }
}

const reports = [];
const failures = [];
for (const file of files) {
  const rel = relative(root, file);
  console.log(`\n=== ${rel}`);
  const started = Date.now();
  const { code, stdout } = await run(file);
  const found = stdout
    .split('\n')
    .filter((line) => line.startsWith(PREFIX))
    .map((line) => ({ file: rel, ...JSON.parse(line.slice(PREFIX.length)) }));
  reports.push(...found);
  if (code !== 0 || found.length === 0) failures.push(`${rel} (exit ${code}, ${found.length} reports)`);
  console.log(`--- ${rel}: ${((Date.now() - started) / 1000).toFixed(1)} s, exit ${code}`);
}

const outDir = join(root, 'bench-results');
mkdirSync(outDir, { recursive: true });
const machine = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
};
writeFileSync(join(outDir, 'results.json'), `${JSON.stringify({ machine, reports, failures }, null, 2)}\n`);

const fmt = (n) =>
  typeof n !== 'number' || !Number.isFinite(n)
    ? String(n)
    : Math.abs(n) >= 1000
      ? Math.round(n).toLocaleString('en-US')
      : n.toPrecision(4);
const lines = [
  '# Benchmark summary',
  '',
  `${machine.date}, Node ${machine.node}, ${machine.cpus}. Every figure is beside a baseline measured in the same run.`,
  '',
  '| package | bench | figure | value | baseline | ratio | target | method |',
  '|---|---|---|---|---|---|---|---|',
];
for (const report of reports) {
  for (const f of report.figures) {
    const ratio = f.baseline.value === 0 ? Number.NaN : f.value / f.baseline.value;
    const met =
      f.target === undefined ? '' : (f.higherIsBetter ? ratio >= f.target : ratio <= f.target) ? ' met' : ' **missed**';
    const target = f.target === undefined ? '' : `${f.higherIsBetter ? '>=' : '<='} ${f.target}x${met}`;
    lines.push(
      `| ${report.package} | ${report.bench} | ${f.name} | ${fmt(f.value)} ${f.unit} | ${f.baseline.name}: ${fmt(
        f.baseline.value,
      )} ${f.unit} | ${ratio.toFixed(2)}x | ${target} | ${f.method.replaceAll('|', '/')} |`,
    );
  }
}
if (failures.length > 0) lines.push('', '## Failed benches', '', ...failures.map((f) => `- ${f}`));
writeFileSync(join(outDir, 'summary.md'), `${lines.join('\n')}\n`);
console.log(`\n${lines.join('\n')}\n\nwrote ${relative(root, join(outDir, 'summary.md'))} and results.json`);
if (failures.length > 0) process.exit(1);

function run(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      process.stdout.write(chunk);
    });
    const timer = setTimeout(() => {
      console.error(`bench: ${file} ran past ${TIMEOUT_MS} ms, killing it`);
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout });
    });
  });
}
