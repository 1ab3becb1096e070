import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Exit codes shared by the deployment scripts. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A bad command line: the script prints it with its usage and exits with {@link EXIT.usage}. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O; strict: true }>>['values'];

/**
 * Parses `argv` strictly (unknown flags and positionals are rejected); `--help` is always accepted.
 * @returns the flag values, or `undefined` when `--help` was given.
 * @throws UsageError naming the bad flag.
 */
export function parseFlags<O extends Options>(argv: readonly string[], options: O): Values<O> | undefined {
  let values: Values<O>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean' as const } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (cause) {
    throw new UsageError((cause as Error).message);
  }
  return (values as { help?: boolean }).help === true ? undefined : values;
}

/** A required string flag, or a UsageError naming it. */
export function required(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

/** A numeric flag within `[min, max]`, or a UsageError naming it. */
export function numberFlag(value: unknown, flag: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`--${flag} must be a number in [${min}, ${max}], got "${String(value)}"`);
  return n;
}

/** Where a script writes its report and its complaints (tests pass their own). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** The process's stdout and stderr. */
export const stdio: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Is the module at `moduleUrl` the script node was started with (not imported by a test)? */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && pathToFileURL(realpathSync(script)).href === moduleUrl;
}

/**
 * Runs a script's `main`: prints `usage` on `--help` (exit 0) and on a UsageError (exit 2), any other error with exit 1.
 * `main` returns the exit code, or `undefined` for `--help`.
 */
export async function runScript(usage: string, main: (argv: string[]) => Promise<number | undefined>): Promise<void> {
  try {
    const code = await main(process.argv.slice(2));
    if (code === undefined) process.stdout.write(`${usage}\n`);
    process.exitCode = code ?? EXIT.ok;
  } catch (error) {
    const usageError = error instanceof UsageError;
    process.stderr.write(`${(error as Error).message}\n${usageError ? `\n${usage}\n` : ''}`);
    process.exitCode = usageError ? EXIT.usage : EXIT.failed;
  }
}

/** Prints rows as an aligned text table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
