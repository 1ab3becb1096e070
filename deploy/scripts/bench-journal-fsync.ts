// Measures the journal's fsync policy on this machine's disk: the time `Journal.append` takes (an event is applied
// only after its append returns, so this is what the policy adds to tick-to-journaled latency), for `never` (the
// baseline: a write to the page cache), `interval` and `always`, in one run, with ratios to the baseline.
//   npx tsx deploy/scripts/bench-journal-fsync.ts [--appends N] [--dir D]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Journal } from '../../apps/trader/src/journal/journal.js';
import { EXIT, type Io, isMain, numberFlag, parseFlags, runScript, stdio, table } from './cli.js';

/** The script's `--help` text. */
export const USAGE = `Usage: npx tsx deploy/scripts/bench-journal-fsync.ts [--appends N] [--dir D]

  --appends N   appends per policy (default 2000).
  --dir D       where the journals go (default: a temp dir; use the data volume's file system to measure it).
  --help        this text.`;

const POLICIES = ['never', 'interval', 'always'] as const;

/** The script: returns its exit code, or `undefined` for `--help`; throws UsageError on a bad command line. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number | undefined> {
  const flags = parseFlags(argv, { appends: { type: 'string' }, dir: { type: 'string' } });
  if (flags === undefined) return undefined;
  const appends = numberFlag(flags.appends, 'appends', 2000, 10, 1_000_000);
  const dir = mkdtempSync(join(flags.dir ?? tmpdir(), 'journal-fsync-'));
  try {
    const rows = POLICIES.map((fsync) => {
      const { journal } = Journal.open(join(dir, `${fsync}.jsonl`), { fsync, fsyncIntervalMs: 100 });
      const us: number[] = [];
      const tick = { symbol: 'BTCUSDT', bid: 65000.5, ask: 65001, bidQty: 1.25, askQty: 0.75 };
      for (let i = 0; i < appends; i++) {
        const t0 = performance.now();
        journal.append('tick', tick);
        us.push((performance.now() - t0) * 1000);
      }
      journal.close();
      us.sort((a, b) => a - b);
      const q = (p: number) => us[Math.min(us.length - 1, Math.floor(us.length * p))] ?? 0;
      return { fsync, p50: q(0.5), p99: q(0.99), perSecond: appends / (us.reduce((a, b) => a + b, 0) / 1e6) };
    });
    const base = rows[0] as (typeof rows)[number];
    io.out(
      `${table(
        ['journal.fsync', 'append p50 us', 'append p99 us', 'appends/s', 'p50 vs never', 'appends/s vs never'],
        rows.map((r) => [
          r.fsync,
          r.p50.toFixed(1),
          r.p99.toFixed(1),
          r.perSecond.toFixed(0),
          `${(r.p50 / base.p50).toFixed(2)}x`,
          `${(r.perSecond / base.perSecond).toFixed(3)}x`,
        ]),
      )}\n`,
    );
    return EXIT.ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runScript(USAGE, main);
