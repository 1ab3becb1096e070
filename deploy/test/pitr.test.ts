// Backups and point-in-time recovery of the trader's PostgreSQL, for real: a disposable PostgreSQL cluster archives
// its WAL through deploy/backup/archive-wal.sh while the built trader trades into it; base backups are taken with
// base-backup.sh while it trades, retention.sh prunes them, the primary's disk is lost (kill -9, data dir deleted)
// and restore-pitr.sh brings the database back to the end of the archive (RPO, RTO) and to a moment T (PITR).
//
// What "the database equals the journal at T" means here. A journal entry reaches PostgreSQL in a writer batch:
// one transaction holding the entry's rows and the writer's cursor (the last journal seq persisted). Recovery to T
// replays exactly the transactions that COMMITTED at or before T, so the restored cursor C is the last seq of the
// last batch committed by T, and:
//   - the restored rows equal a replay of journal entries 1..C (fills exactly once, orders, risk events, positions),
//     nothing past C;
//   - the fills present are exactly those whose transaction committed at or before T on the primary (commit
//     timestamps from track_commit_timestamp; fills are insert-only, so their xmin is the batch that wrote them);
//   - every entry 1..C was journaled at or before T (entry time <= commit time <= T). Entries journaled before T
//     whose batch committed after T are absent by design (the writer's lag at T); the test prints how many.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chown, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, type PostgresCluster, postgresBinDir, startPostgresCluster, waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../apps/trader/src/journal/journal.js';
import { Journal } from '../../apps/trader/src/journal/journal.js';
import type { JournalEvents } from '../../apps/trader/src/model/journal-events.js';
import type { Fill } from '../../apps/trader/src/model/types.js';

const execFileAsync = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const scripts = join(repo, 'deploy/backup');
// REHEARSAL_TRADER_DIR: a copy of apps/trader holding dist/, for a drill that must not see a build running beside it.
const traderMain = join(process.env.REHEARSAL_TRADER_DIR || join(repo, 'apps/trader'), 'dist/main.js');
/**
 * The drill's knobs (`npm run dr-drill -w @cryptoscalp/deploy` sets production-like values): archive_timeout (the
 * test's 2 s bounds the RPO measured below; production's is 30 s, postgresql.backup.conf), WAL segment size (the
 * test's 1 MiB keeps a forced switch every 2 s from writing 16 MiB; with small segments they fill before the
 * timeout, so the drill uses PostgreSQL's default 16) and how long to trade between T and the loss of the disk.
 */
const drill = {
  archiveTimeoutS: envNumber('DR_ARCHIVE_TIMEOUT_S', 2),
  walSegmentMiB: envNumber('DR_WAL_SEGMENT_MIB', 1),
  tradeAfterTargetS: envNumber('DR_TRADE_AFTER_T_S', 0),
};

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number of seconds or MiB, got ${raw}`);
  return n;
}
const INSTANCE = 'pitr';

/** Cleanup registered as things start, run in reverse by afterAll even when the test failed. */
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** A temporary directory the database's OS user can write (the scripts run as `postgres` when started as root). */
async function dbUserDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (process.getuid?.() === 0) {
    const id = async (flag: string) => Number((await execFileAsync('id', [flag, 'postgres'])).stdout.trim());
    await chown(dir, await id('-u'), await id('-g'));
  }
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function runScript(name: string, args: string[]): Promise<string> {
  try {
    return (await execFileAsync(join(scripts, name), args, { maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; stdout?: string; code?: number };
    throw Object.assign(
      new Error(`${name} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`),
      { code: err.code },
    );
  }
}

async function psqlAt(port: number, sql: string): Promise<string> {
  const bin = await postgresBinDir();
  const { stdout } = await execFileAsync(`${bin}/psql`, [
    ...['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres'],
    ...['-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
  ]);
  return stdout.trim();
}

const rows = (out: string): string[][] => (out === '' ? [] : out.split('\n').map((line) => line.split('|')));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A server started by restore-pitr.sh (pg_ctl detaches it: it is stopped by the pid the script printed). */
interface Restored {
  port: number;
  pid: number;
  seconds: number;
}

async function stopPostmaster(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGINT'); // fast shutdown
  try {
    await waitFor(() => !alive(pid), { timeoutMs: 15_000, intervalMs: 50, what: `postmaster ${pid} to stop` });
  } catch {
    process.kill(pid, 'SIGKILL');
  }
}

/**
 * restore-pitr.sh into `pgdata` on a free port. A free port can be taken by another process (a client connection's
 * ephemeral port, another test's server) between the check and the server's bind, seconds later after unpacking: the
 * script then exits 3, and the restore is repeated on another port into a fresh directory.
 */
async function restore(args: string[], pgdata: string): Promise<Restored> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const out = await runScript('restore-pitr.sh', [
        ...args,
        ...['--pgdata', pgdata, '--port', String(port), '--listen', '127.0.0.1'],
      ]);
      const m = /^restored pgdata=\S+ port=(\d+) pid=(\d+) seconds=([\d.]+)$/m.exec(out);
      if (m === null) throw new Error(`restore-pitr.sh printed no result line:\n${out}`);
      const restored = { port: Number(m[1]), pid: Number(m[2]), seconds: Number(m[3]) };
      cleanups.push(() => stopPostmaster(restored.pid));
      return restored;
    } catch (error) {
      if (attempt >= 3 || (error as { code?: number }).code !== 3) throw error;
      console.log(`restore-pitr.sh: port ${port} was taken, again on another port`);
      await rm(pgdata, { recursive: true, force: true });
    }
  }
}

/** The built trader (`--role all`) writing to `databaseUrl`, its output kept for failure messages. */
function startTrader(dataDir: string, databaseUrl: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [traderMain, '--role', 'all'], {
    cwd: repo,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TRADER_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      TRADER_INSTANCE_ID: INSTANCE,
      TRADER_HTTP_PORT: '0',
      TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
      TRADER_STRATEGY_WARMUP_SAMPLES: '60',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + String(d)).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  });
  return { child, output: () => out };
}

async function stopTrader(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

const cursorAt = async (port: number): Promise<number> =>
  Number(await psqlAt(port, `select last_seq from trader.writer_cursor where instance_id = '${INSTANCE}'`));

const fillsIn = (entries: JournalEntry[]) =>
  entries.filter((e) => e.type === 'fill').map((e) => ({ seq: e.seq, fill: e.data as Fill }));

/** The trader tables as the journal entries 1..C make them (the writer's rules, computed independently). */
function expectedState(entries: JournalEntry[]) {
  const orders = new Map<string, { status: string; qty: number; filled: number }>();
  const positions = new Map<string, number>();
  const riskSeqs: number[] = [];
  for (const e of entries) {
    if (e.type === 'order.submitted') {
      const d = e.data as JournalEvents['order.submitted'];
      if (!orders.has(d.clientOrderId)) orders.set(d.clientOrderId, { status: 'submitted', qty: d.qty, filled: 0 });
    } else if (e.type === 'order.accepted' || e.type === 'order.rejected' || e.type === 'order.cancelled') {
      const o = orders.get((e.data as { clientOrderId: string }).clientOrderId);
      if (o) o.status = e.type.slice('order.'.length);
    } else if (e.type === 'fill') {
      const f = e.data as Fill;
      const o = orders.get(f.clientOrderId);
      if (o) {
        o.filled += f.qty;
        o.status = o.filled >= o.qty - 1e-9 ? 'filled' : 'partially_filled';
      }
      positions.set(f.symbol, (positions.get(f.symbol) ?? 0) + (f.side === 'buy' ? f.qty : -f.qty));
    } else if (e.type === 'risk.state') riskSeqs.push(e.seq);
  }
  return { orders, positions, riskSeqs, fills: fillsIn(entries) };
}

/** Asserts that the database on `port` holds exactly the journal's entries 1..cursor; returns the cursor. */
async function expectDatabaseEqualsJournal(port: number, journal: JournalEntry[], what: string): Promise<number> {
  const cursor = await cursorAt(port);
  expect(cursor, `${what}: cursor within the journal`).toBeLessThanOrEqual(journal.length);
  const expected = expectedState(journal.filter((e) => e.seq <= cursor));

  const fills = rows(await psqlAt(port, 'select fill_id, journal_seq from trader.fills order by journal_seq, fill_id'));
  expect(
    fills.map(([id, seq]) => `${seq}:${id}`),
    `${what}: fills are the journal's 1..${cursor}, each once`,
  ).toEqual(expected.fills.map((f) => `${f.seq}:${f.fill.fillId}`));

  const orders = rows(await psqlAt(port, 'select client_order_id, status, filled_qty from trader.orders'));
  expect(orders.length, `${what}: orders`).toBe(expected.orders.size);
  for (const [id, status, filled] of orders) {
    const o = expected.orders.get(id as string);
    expect(o, `${what}: order ${id} is in the journal up to ${cursor}`).toBeDefined();
    expect(status, `${what}: status of ${id}`).toBe(o?.status);
    expect(Number(filled)).toBeCloseTo(o?.filled ?? Number.NaN, 9);
  }

  const risk = rows(await psqlAt(port, 'select journal_seq from trader.risk_events order by 1')).map(([s]) =>
    Number(s),
  );
  expect(risk, `${what}: risk events`).toEqual(expected.riskSeqs);

  for (const [symbol, qty] of rows(await psqlAt(port, 'select symbol, qty from trader.positions'))) {
    expect(Number(qty), `${what}: position ${symbol}`).toBeCloseTo(expected.positions.get(symbol as string) ?? 0, 9);
  }
  return cursor;
}

async function dirBytes(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const name of await readdir(dir)) {
    const s = await stat(join(dir, name));
    if (s.isFile()) {
      files++;
      bytes += s.size;
    } else if (s.isDirectory()) {
      const sub = await dirBytes(join(dir, name));
      files += sub.files;
      bytes += sub.bytes;
    }
  }
  return { files, bytes };
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;

describe('PostgreSQL backups and point-in-time recovery under a trading trader', () => {
  it('restores to T exactly, to the end of the archive within the RPO, and the writer catches up (RTO)', async () => {
    await stat(traderMain).catch(() => {
      throw new Error(`${traderMain} is missing: npm run build -w @cryptoscalp/trader`);
    });
    const archive = await dbUserDir('cs-wal-archive-');
    const backups = await dbUserDir('cs-base-backups-');
    const restores = await dbUserDir('cs-restores-');
    const dataDir = await mkdtemp(join(tmpdir(), 'cs-pitr-trader-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const journalPath = join(dataDir, 'journal.jsonl');
    const fillCount = () => Journal.read(journalPath).filter((e) => e.type === 'fill').length;

    const primary: PostgresCluster = await startPostgresCluster({
      initdbArgs: [`--wal-segsize=${drill.walSegmentMiB}`],
      settings: {
        archive_mode: 'on',
        archive_command: `${join(scripts, 'archive-wal.sh')} "%p" "%f" ${archive}`,
        archive_timeout: drill.archiveTimeoutS,
        track_commit_timestamp: 'on',
      },
    });
    cleanups.push(() => primary.stop());

    const trader = startTrader(dataDir, primary.url);
    await waitFor(() => trader.output().includes('trader: running') || trader.child.exitCode !== null, {
      timeoutMs: 60_000,
      what: 'the trader to run',
    });
    expect(trader.child.exitCode, trader.output()).toBe(null);
    const waitFills = async (n: number) =>
      waitFor(() => fillCount() >= n, { timeoutMs: 90_000, intervalMs: 100, what: `${n} fills in the journal` });

    // Poll the primary's writer cursor until it is lost: the last value seen is committed data.
    let observedCursor = 0;
    let polling = true;
    let maxWriterLag = 0;
    const poller = (async () => {
      while (polling) {
        observedCursor = await cursorAt(primary.port).catch(() => observedCursor);
        maxWriterLag = Math.max(maxWriterLag, Journal.read(journalPath).length - observedCursor);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // Two base backups while trading; retention keeps the newer, and every restore below starts from it.
    await waitFills(3);
    const args = ['--dest', backups, '--host', '127.0.0.1', '--port', String(primary.port), '--user', 'postgres'];
    const first = (await runScript('base-backup.sh', args)).trim();
    await waitFills(fillCount() + 3);
    const backup = (await runScript('base-backup.sh', args)).trim();
    expect(backup).not.toBe(first);
    const backupInfo = await readFile(join(backup, 'backup.info'), 'utf8');
    const startWal = /^start_wal=([0-9A-F]{24})$/m.exec(backupInfo)?.[1] as string;
    expect(startWal).toBeDefined();

    // T, on the server's clock, while trading; then more batches commit after it.
    await waitFills(fillCount() + 3);
    const [targetTime, targetMsText] = rows(
      await psqlAt(primary.port, 'select t, extract(epoch from t) * 1000 from (select clock_timestamp() as t) x'),
    )[0] as [string, string];
    const targetMs = Number(targetMsText);
    const committedAfterT = `select count(*) from trader.fills where pg_xact_commit_timestamp(xmin) > '${targetTime}'`;
    await waitFor(async () => Number(await psqlAt(primary.port, committedAfterT)) >= 1, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'fills committed after T',
    }).catch(async (error: Error) => {
      // Say whether the trader stopped filling or its writer stopped committing.
      const cursor = await cursorAt(primary.port).catch((e: Error) => e.message);
      throw new Error(
        `${error.message}: ${fillCount()} fills and ${Journal.read(journalPath).length} entries in the journal, writer cursor ${cursor}\n${trader.output().slice(-3_000)}`,
      );
    });
    // Recovery to T stops at the first commit after T; an archive that ends before such a commit cannot reach T
    // (PostgreSQL: "recovery ended before configured recovery target was reached", and the server does not start).
    // In a disaster T must be older than the archive's end; here: wait until the segment holding those commits is
    // archived (archive_timeout switches it).
    const segmentAfterT = await psqlAt(primary.port, 'select pg_walfile_name(pg_current_wal_lsn())');
    await waitFor(
      async () =>
        (await psqlAt(
          primary.port,
          "select coalesce(last_archived_wal, '') from pg_stat_archiver where last_archived_wal ~ '^[0-9A-F]{24}$'",
        )) >= segmentAfterT,
      { timeoutMs: 60_000, intervalMs: 100, what: `WAL segment ${segmentAfterT} archived` },
    );
    // The drill trades on for a while: the loss then falls anywhere in an archive_timeout cycle.
    await new Promise((r) => setTimeout(r, drill.tradeAfterTargetS * 1000));

    // A journal backup while the trader appends.
    const journalOut = await runScript('journal-backup.sh', ['--journal', journalPath, '--dest', join(dataDir, 'jb')]);
    const [journalCopy, journalCopyStats] = journalOut.trim().split('\n') as [string, string];
    const copied = Number(/entries=(\d+)/.exec(journalCopyStats)?.[1]);
    expect(copied).toBeGreaterThan(0);

    // Commit times of every fill so far (insert-only rows: xmin is the batch that wrote them).
    const commitTimes = rows(
      await psqlAt(
        primary.port,
        `select fill_id, pg_xact_commit_timestamp(xmin) <= '${targetTime}' from trader.fills order by journal_seq`,
      ),
    );
    expect(commitTimes.some(([, before]) => before === 't')).toBe(true);
    expect(commitTimes.some(([, before]) => before === 'f')).toBe(true);

    // The primary's disk is lost: SIGKILL, data dir deleted. The trader trades on, on its journal.
    const archiveBeforeLoss = await readdir(archive);
    polling = false;
    await poller;
    const lossAt = Date.now();
    const seqAtLoss = Journal.read(journalPath).length;
    const newestArchived = Math.max(
      ...(await Promise.all(
        archiveBeforeLoss
          .filter((n) => /^[0-9A-F]{24}$/.test(n))
          .map(async (n) => (await stat(join(archive, n))).mtimeMs),
      )),
    );
    await primary.kill();
    await rm(primary.dataDir, { recursive: true, force: true });

    // Retention: keep 1 base backup, and the WAL from its start on.
    await runScript('retention.sh', ['--backups', backups, '--wal-archive', archive, '--keep', '1']);
    expect((await readdir(backups)).sort()).toEqual([backup.split('/').pop()]);
    const segments = (await readdir(archive)).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
    expect(segments[0]).toBe(startWal);
    expect(segments.length).toBeLessThan(archiveBeforeLoss.filter((n) => /^[0-9A-F]{24}$/.test(n)).length);

    // RPO: restore to the end of the archive beside (another port) and count what it lacks.
    const latest = await restore(['--backup', backup, '--wal-archive', archive, '--latest'], join(restores, 'latest'));
    const journalAtLoss = Journal.read(journalPath).slice(0, seqAtLoss);
    const latestCursor = await expectDatabaseEqualsJournal(latest.port, journalAtLoss, 'restore to latest');
    await stopPostmaster(latest.pid);
    // Committed data lost: batches seen committed on the primary that the archive did not have. Their span runs
    // from the journal time of the first such entry (at or before its commit) to the loss.
    const committedLost = Math.max(0, observedCursor - latestCursor);
    const firstLost = journalAtLoss[latestCursor];
    const rpoSeconds = committedLost === 0 || firstLost === undefined ? 0 : (lossAt - firstLost.ts) / 1000;
    const archiveAgeSeconds = (lossAt - newestArchived) / 1000;

    // RTO: restore to the end of the archive as a new server, then restart the trader against it: its writer reads
    // the restored cursor and catches up from the journal. (The running trader is not pointed at it: its writer
    // keeps the cursor it had and would skip the entries the restore lacks; see disaster-recovery.md.)
    const rtoStart = Date.now();
    const replacement = await restore(
      ['--backup', backup, '--wal-archive', archive, '--latest'],
      join(restores, 'replacement'),
    );
    const acceptedAt = Date.now();
    await stopTrader(trader.child);
    const seqAtRestart = Journal.read(journalPath).length;
    const restarted = startTrader(dataDir, `postgres://postgres@127.0.0.1:${replacement.port}/postgres`);
    await waitFor(async () => (await cursorAt(replacement.port)) >= seqAtRestart, {
      timeoutMs: 120_000,
      intervalMs: 100,
      what: `the writer to catch up to ${seqAtRestart}`,
    });
    const rtoSeconds = (Date.now() - rtoStart) / 1000;

    expect(await stopTrader(restarted.child), restarted.output()).toBe(0);
    const journal = Journal.read(journalPath);
    // After the disaster and the catch-up nothing is lost: PostgreSQL equals the whole journal.
    expect(await expectDatabaseEqualsJournal(replacement.port, journal, 'after catch-up')).toBe(journal.length);
    expect(journal.slice(0, copied)).toEqual(Journal.read(journalCopy));

    // PITR: restore to T into a fresh cluster.
    const pitr = await restore(
      ['--backup', backup, '--wal-archive', archive, '--target-time', targetTime],
      join(restores, 'pitr'),
    );
    const cursorAtT = await expectDatabaseEqualsJournal(pitr.port, journal, 'restore to T');
    const restoredFills = new Set(rows(await psqlAt(pitr.port, 'select fill_id from trader.fills')).map(([id]) => id));
    expect(restoredFills).toEqual(new Set(commitTimes.filter(([, before]) => before === 't').map(([id]) => id)));
    for (const e of journal.filter((e) => e.seq <= cursorAtT)) expect(e.ts).toBeLessThanOrEqual(targetMs);
    const journaledNotCommitted = journal.filter((e) => e.ts <= targetMs && e.seq > cursorAtT).length;
    expect(latestCursor).toBeGreaterThanOrEqual(cursorAtT);

    // The archiver keeps up to archive_timeout (plus a loaded machine's delay); the goals of issue 15: RPO <= 60 s,
    // RTO <= 10 min.
    expect(archiveAgeSeconds).toBeLessThanOrEqual(drill.archiveTimeoutS + 10);
    expect(rpoSeconds).toBeLessThanOrEqual(60);
    expect(rtoSeconds).toBeLessThanOrEqual(600);

    const size = await psqlAt(replacement.port, "select pg_size_pretty(pg_database_size('postgres'))");
    const backupSize = await dirBytes(backup);
    const archived = await dirBytes(archive);
    console.log(
      [
        `disaster-recovery drill (archive_timeout ${drill.archiveTimeoutS} s, ${drill.walSegmentMiB} MiB WAL segments):`,
        `  data: ${journal.length} journal entries (${fillsIn(journal).length} fills, ${mib((await stat(journalPath)).size)}), database ${size}, base backup ${mib(backupSize.bytes)}, WAL archive ${archived.files} files ${mib(archived.bytes)}`,
        `  PITR to ${targetTime}: cursor ${cursorAtT}; ${journaledNotCommitted} entries journaled by T but committed after it (writer lag), absent as they must be`,
        `  RPO: ${rpoSeconds.toFixed(1)} s (${committedLost} committed entries lost: last seen committed ${observedCursor}, restore to latest has ${latestCursor}); newest archived WAL was ${archiveAgeSeconds.toFixed(1)} s old; the journal had ${seqAtLoss} (writer lag at most ${maxWriterLag} entries while polled), all back after the catch-up`,
        `  RTO: ${rtoSeconds.toFixed(1)} s from restore start to the restarted trader's writer caught up (restore ${replacement.seconds.toFixed(1)} s, accepted queries after ${((acceptedAt - rtoStart) / 1000).toFixed(1)} s)`,
      ].join('\n'),
    );
  });
});
