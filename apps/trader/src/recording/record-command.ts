// `trader record`: a recording of the built-in simulator's market in simulated time (samples, benchmarks). A running
// trader records its live feed with `recording.enabled`.
import type { RecordingFormat } from './recording-format.js';
import { recordSimulatedMarket } from './simulated-recording.js';

/** Usage text of `trader record`. */
export const RECORD_USAGE = `usage: trader record --out DIR [--minutes N] [--seed N] [--symbols A,B] [--start ISO] [--format F]

  Records the built-in simulator's market (the same models and seeds as the simulator a trader starts) in simulated
  time, as fast as the CPU allows, to <DIR>/binance/<symbol>/<YYYY-MM-DD>.csrb (.jsonl.gz with --format jsonl). The
  same options give the same events. To record a running trader's feed (simulator or venue), set recording.enabled and recording.dir instead.

  --out DIR       where the recording goes
  --minutes N     simulated minutes (default 5)
  --seed N        the simulator's seed (default 42, simulator.seed's default)
  --symbols A,B   symbols (default BTCUSDT,ETHUSDT,SOLUSDT)
  --start ISO     simulated start time (default 2026-01-05T00:00:00Z)
  --format F      binary (default: compact blocks, fastest to replay) or jsonl (gzip JSON lines, the first format)`;

/** Where the command writes. */
export interface RecordCommandIo {
  out(line: string): void;
  err(line: string): void;
}

/** Runs `trader record`; resolves with the exit code (2 for a usage error naming the option). */
export async function runRecordCommand(argv: readonly string[], io: RecordCommandIo): Promise<number> {
  let out: string | undefined;
  let minutes = 5;
  let seed = 42;
  let symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
  let start = Date.parse('2026-01-05T00:00:00Z');
  let format: RecordingFormat = 'binary';
  try {
    for (let i = 0; i < argv.length; i++) {
      const flag = argv[i] as string;
      const value = (): string => {
        const v = argv[++i];
        if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
        return v;
      };
      const number = (ok: (n: number) => boolean, what: string): number => {
        const v = value();
        const n = Number(v);
        if (!ok(n)) throw new Error(`${flag} must be ${what} (got ${JSON.stringify(v)})`);
        return n;
      };
      if (flag === '--help' || flag === '-h') {
        io.out(RECORD_USAGE);
        return 0;
      } else if (flag === '--out') out = value();
      else if (flag === '--minutes') minutes = number((n) => n > 0 && n <= 7 * 24 * 60, 'a number in (0, 10080]');
      else if (flag === '--seed') seed = number((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, 'an integer >= 0');
      else if (flag === '--symbols') {
        symbols = value().split(',');
        const badSymbol = symbols.find((s) => !/^[A-Z0-9]{2,20}$/.test(s));
        if (badSymbol !== undefined)
          throw new Error(`--symbols: ${JSON.stringify(badSymbol)} is not a symbol like BTCUSDT`);
      } else if (flag === '--start') {
        start = Date.parse(value());
        if (!Number.isFinite(start)) throw new Error('--start must be an ISO 8601 time');
      } else if (flag === '--format') {
        const f = value();
        if (f !== 'binary' && f !== 'jsonl')
          throw new Error(`--format must be binary or jsonl (got ${JSON.stringify(f)})`);
        format = f;
      } else throw new Error(`unknown option ${flag}`);
    }
    if (out === undefined) throw new Error('--out is required');
  } catch (e) {
    io.err(`trader record: ${(e as Error).message}\n${RECORD_USAGE}`);
    return 2;
  }
  const stats = await recordSimulatedMarket({ dir: out, symbols, minutes, seed, start, format });
  io.out(
    `trader record: ${stats.written} events of ${symbols.join(', ')} over ${minutes} simulated min (seed ${seed}) in ${out}: ${stats.files} files, ${(stats.bytes / 1024).toFixed(0)} KiB`,
  );
  return stats.written === stats.recorded && stats.lastError === undefined ? 0 : 1;
}
