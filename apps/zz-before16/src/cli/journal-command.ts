// `trader journal verify|repair`: the way out of a damaged journal, which otherwise stops every start with a bare
// "sequence X where Y was expected". Verify only reads; repair cuts the journal at the first broken entry after
// taking the data dir lock, so it cannot cut a journal under a running trader, and a trader cannot start mid-repair.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { loadConfig } from '../config/load-config.js';
import { isTraderError } from '../errors.js';
import { acquireDataDirLock, type DataDirLock, readDataDirLock } from '../journal/data-dir-lock.js';
import { type JournalVerifyReport, repairJournal, verifyJournal } from '../journal/journal-repair.js';

/** Where {@link runJournalCommand} talks to. Only `out` and `err` are required. */
export interface JournalCommandIo {
  /** One line of normal output (stdout). */
  out(line: string): void;
  /** One line of diagnostics (stderr). */
  err(line: string): void;
  /** Whether someone can answer a question. @default process.stdin.isTTY && process.stdout.isTTY */
  interactive?: boolean;
  /** Asks a yes/no question and resolves the answer. @default a readline prompt on stdin/stdout */
  ask?(question: string): Promise<string>;
  /** Environment for the configuration (data dir, journal path). @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Usage text of `trader journal`. */
export const JOURNAL_COMMAND_USAGE = `usage: trader journal verify [--data-dir DIR | --journal FILE] [--json]
       trader journal repair [--data-dir DIR | --journal FILE] [--yes]

  verify   check the journal: exit 0 when it can be replayed, 1 when it is broken
  repair   back the journal up to <journal>.broken-<time>, then cut it at the first broken entry;
           refused while a trader runs on the data dir; asks first unless --yes (required without a terminal)

  --data-dir DIR   the data dir; its journal is DIR/journal.jsonl
  --journal FILE   a journal file; the data dir lock checked is the one in its directory
  (neither)        the data dir and journal the trader would use: TRADER_DATA_DIR, TRADER_JOURNAL_PATH,
                   --config FILE, --env NAME, as for \`trader\` itself
  --json           verify: print the report as JSON
  --yes            repair: do not ask`;

interface Options {
  command: 'verify' | 'repair';
  dataDir?: string;
  journal?: string;
  json: boolean;
  yes: boolean;
  configArgv: string[];
}

class UsageError extends Error {}

/** `1 entry`, `2 entries`: the counts reach an operator, often as 1. */
function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function parseArgs(argv: readonly string[]): Options | 'help' {
  const args = argv[0] === 'journal' ? argv.slice(1) : [...argv];
  const command = args.shift();
  if (command === '--help' || command === '-h' || command === 'help') return 'help';
  if (command !== 'verify' && command !== 'repair') {
    throw new UsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
  }
  const options: Options = { command, json: false, yes: false, configArgv: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = flag === arg ? undefined : arg.slice(eq + 1);
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const noValue = (): void => {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
    };
    if (flag === '--help' || flag === '-h') return 'help';
    else if (flag === '--data-dir') options.dataDir = value();
    else if (flag === '--journal') options.journal = value();
    else if (flag === '--config' || flag === '--env') options.configArgv.push(flag, value());
    else if (flag === '--json' && command === 'verify') {
      noValue();
      options.json = true;
    } else if ((flag === '--yes' || flag === '-y') && command === 'repair') {
      noValue();
      options.yes = true;
    } else throw new UsageError(`unknown option ${arg} for journal ${command}`);
  }
  return options;
}

/** The journal file and the data dir whose lock guards it. */
function locate(options: Options, env: NodeJS.ProcessEnv): { journalPath: string; dataDir: string } {
  if (options.journal !== undefined) {
    const journalPath = resolve(options.journal);
    // The default layout keeps the journal in the data dir; --data-dir next to --journal names the dir explicitly.
    return { journalPath, dataDir: resolve(options.dataDir ?? dirname(journalPath)) };
  }
  if (options.dataDir !== undefined) {
    return { journalPath: resolve(options.dataDir, 'journal.jsonl'), dataDir: resolve(options.dataDir) };
  }
  // The same resolution as TraderApp.journalPath, from the same configuration the trader would load.
  const config = loadConfig({ env, argv: options.configArgv });
  return {
    journalPath: resolve(config.journal.path || join(config.dataDir, 'journal.jsonl')),
    dataDir: resolve(config.dataDir),
  };
}

function describeBreak(report: JournalVerifyReport): string[] {
  const b = report.firstBroken;
  if (b === undefined) return [];
  const cut = report.bytes - b.byteOffset;
  return [
    `  first broken entry: line ${b.line}, byte ${b.byteOffset}${b.seq === undefined ? '' : ` (seq ${b.seq})`}: ${b.reason}`,
    `  ${count(report.entries, 'good entry', 'good entries')} before it${report.entries > 0 ? ` (last seq ${report.lastSeq})` : ''}; ${count(report.brokenLines, 'line', 'lines')} (${cut} bytes) from it to the end of the file`,
  ];
}

function describeTornTail(report: JournalVerifyReport): string[] {
  const t = report.tornTail;
  if (t === undefined) return [];
  return [
    `  its last line (line ${t.line}, ${t.bytes} bytes at byte ${t.byteOffset}) is torn (${t.reason}): a write cut short by a crash; the trader drops it on its next start`,
  ];
}

function lockNote(dataDir: string): string[] {
  try {
    const status = readDataDirLock(dataDir);
    if (status?.state === 'live' && status.holder) {
      return [
        `  note: pid ${status.holder.pid} is running on this data dir (started ${status.holder.startedAt}) and may be appending to the journal`,
      ];
    }
  } catch {
    // Diagnostics only: an unreadable lock file must not hide the verification result.
  }
  return [];
}

function verify(options: Options, journalPath: string, dataDir: string, io: JournalCommandIo): number {
  const report = verifyJournal(journalPath);
  if (options.json) {
    io.out(JSON.stringify(report));
    return report.ok ? 0 : 1;
  }
  if (report.ok) {
    io.out(
      `journal ok: ${journalPath}: ${count(report.entries, 'entry', 'entries')}${report.entries > 0 ? ` (last seq ${report.lastSeq})` : ''}, ${report.bytes} bytes`,
    );
    for (const line of [...describeTornTail(report), ...lockNote(dataDir)]) io.out(line);
    return 0;
  }
  io.out(`journal BROKEN: ${journalPath}`);
  for (const line of [...describeBreak(report), ...lockNote(dataDir)]) io.out(line);
  io.out(
    `  to cut it there (a backup of the whole file is kept): trader journal repair --journal ${journalPath}${dataDir === dirname(journalPath) ? '' : ` --data-dir ${dataDir}`}`,
  );
  return 1;
}

async function askDefault(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

async function repair(options: Options, journalPath: string, dataDir: string, io: JournalCommandIo): Promise<number> {
  let lock: DataDirLock;
  try {
    lock = acquireDataDirLock(dataDir);
  } catch (e) {
    if (isTraderError(e) && e.code === 'E_TRADER_DATA_DIR_LOCKED') {
      io.err(`journal repair: refused: ${e.message}`);
      return 1;
    }
    throw e;
  }
  try {
    if (lock.takenOver) io.out(`journal repair: took over a stale lock of ${dataDir} (${lock.takenOver.reason})`);
    const report = verifyJournal(journalPath);
    if (report.ok) {
      io.out(
        `journal ok: ${journalPath}: ${count(report.entries, 'entry', 'entries')}; nothing to repair, nothing changed`,
      );
      for (const line of describeTornTail(report)) io.out(line);
      return 0;
    }
    io.out(`journal BROKEN: ${journalPath}`);
    for (const line of describeBreak(report)) io.out(line);
    if (!options.yes) {
      const interactive = io.interactive ?? Boolean(process.stdin.isTTY && process.stdout.isTTY);
      if (!interactive) {
        io.err('journal repair: nothing changed: without a terminal to ask on, pass --yes to cut the journal');
        return 1;
      }
      const answer = await (io.ask ?? askDefault)(
        `Cut the journal at line ${report.firstBroken?.line}? A backup of the whole file is written first. [y/N] `,
      );
      if (!/^y(es)?$/i.test(answer.trim())) {
        io.out('journal repair: nothing changed');
        return 1;
      }
    }
    const done = repairJournal(journalPath);
    io.out(
      `journal repaired: ${journalPath}: kept ${count(done.keptEntries, 'entry', 'entries')}, cut ${count(done.cutEntries, 'line', 'lines')} (${done.cutBytes} bytes)`,
    );
    io.out(`  backup of the whole file as it was: ${done.backupPath}`);
    return 0;
  } finally {
    lock.release();
  }
}

/**
 * Runs `trader journal verify|repair` with `argv` the arguments after `journal` (a leading `journal` is skipped
 * too) and resolves the exit code: 0 ok (verify: replayable; repair: repaired or nothing to do), 1 broken, refused
 * or failed, 2 usage or configuration error. See {@link JOURNAL_COMMAND_USAGE}.
 */
export async function runJournalCommand(
  argv: string[],
  io: JournalCommandIo = { out: (l) => console.log(l), err: (l) => console.error(l) },
): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`trader journal: ${e.message}`);
    io.err(JOURNAL_COMMAND_USAGE);
    return 2;
  }
  if (options === 'help') {
    io.out(JOURNAL_COMMAND_USAGE);
    return 0;
  }
  let where: { journalPath: string; dataDir: string };
  try {
    where = locate(options, io.env ?? process.env);
  } catch (e) {
    if (!isTraderError(e)) throw e;
    io.err(`trader journal: configuration error${e.field ? ` in ${e.field}` : ''}: ${e.message}`);
    return 2;
  }
  const { journalPath, dataDir } = where;
  if (!existsSync(journalPath)) {
    io.err(`journal ${options.command}: no journal at ${journalPath}`);
    return 1;
  }
  try {
    return options.command === 'verify'
      ? verify(options, journalPath, dataDir, io)
      : await repair(options, journalPath, dataDir, io);
  } catch (e) {
    if (!isTraderError(e)) throw e;
    io.err(`journal ${options.command}: ${e.message}`);
    return 1;
  }
}
