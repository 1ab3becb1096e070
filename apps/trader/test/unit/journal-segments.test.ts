import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryEventLog } from '../../src/bus/memory-event-log.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TradingEngine } from '../../src/engine/trading-engine.js';
import { isTraderError } from '../../src/errors.js';
import { JournalFollower } from '../../src/ha/journal-follower.js';
import {
  cutJournalAfter,
  Journal,
  type JournalEntry,
  listSegments,
  originOf,
  SNAPSHOT_ENTRY,
} from '../../src/journal/journal.js';
import type { ExecutionClient, ExecutionEvent } from '../../src/model/execution-client.js';
import type { Order, OrderIntent } from '../../src/model/types.js';
import type { TraderRecord } from '../../src/read-model/trader-record.js';
import type { Strategy } from '../../src/strategy/strategy.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmpJournal(): string {
  const dir = mkdtempSync(join(tmpdir(), 'trader-segments-'));
  dirs.push(dir);
  return join(dir, 'journal.jsonl');
}

const fillerData = { clientOrderId: 'x'.repeat(40), note: 'y'.repeat(100) };

describe('Journal segments', () => {
  it('rotates into archived segments, reads across them and replays from the last snapshot entry', () => {
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never', segmentBytes: 4096 });
    expect(journal.rotate()).toBe(false); // nothing to archive yet
    while (!journal.rotationDue) journal.append('order.accepted', fillerData);
    const firstLast = journal.lastSeq;
    expect(journal.rotate()).toBe(true);
    expect(journal.rotationDue).toBe(false);
    journal.append(SNAPSHOT_ENTRY, { v: 1, origin: 'kept', marker: 1 });
    journal.append('order.accepted', { clientOrderId: 'after' });
    journal.close();

    expect(listSegments(path)).toEqual([
      {
        path: `${path}.${'1'.padStart(12, '0')}-${String(firstLast).padStart(12, '0')}`,
        firstSeq: 1,
        lastSeq: firstLast,
      },
    ]);
    // Everything is still readable, in order, without holes; from a sequence on too.
    const all = Journal.read(path);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(Journal.read(path, firstLast).map((e) => e.type)).toEqual([SNAPSHOT_ENTRY, 'order.accepted']);
    // A start replays the current segment only: its snapshot entry and what came after it.
    const reopened = Journal.open(path, { fsync: 'never' });
    expect(reopened.recovery.entries.map((e) => e.seq)).toEqual([firstLast + 1, firstLast + 2]);
    expect(reopened.recovery.segments).toBe(1);
    expect(reopened.journal.lastSeq).toBe(firstLast + 2);
    // The identity is the very first entry's, also read from the first segment.
    expect(Journal.origin(path)).toBe(originOf(all[0]));
    reopened.journal.close();
  });

  it('a crash between rotation and snapshot: the start replays from the archived segments and counts on', () => {
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never', segmentBytes: 4096 });
    journal.append('session.start', { n: 1 });
    while (!journal.rotationDue) journal.append('order.accepted', fillerData);
    const last = journal.lastSeq;
    journal.rotate();
    journal.close();
    // The current segment is empty: the sequence continues from the archived one, which is replayed whole.
    const a = Journal.open(path, { fsync: 'never', segmentBytes: 4096 });
    expect(a.journal.lastSeq).toBe(last);
    expect(a.recovery.entries).toHaveLength(last);
    expect(a.journal.append('order.accepted', {}).seq).toBe(last + 1);
    a.journal.close();
    // Without a snapshot entry at its head, the current segment is replayed with the one before it.
    const b = Journal.open(path, { fsync: 'never' });
    expect(b.recovery.entries.map((e) => e.seq)).toEqual(Array.from({ length: last + 1 }, (_, i) => i + 1));
    b.journal.close();
  });

  it('refuses segments that do not join up, naming both', () => {
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    journal.append('a', {});
    journal.append('b', {});
    journal.rotate();
    journal.close();
    // A current segment that starts past the archived one's end.
    writeFileSync(path, `${JSON.stringify({ seq: 5, ts: 1, type: 'c', data: {} })}\n`);
    expect(() => Journal.open(path, { fsync: 'never' })).toThrow(/ends at entry 2, the next segment begins at 5/);
  });

  it('prunes archived segments beyond retainSegments only once they are durable elsewhere', () => {
    const path = tmpJournal();
    let durable = 0;
    const { journal } = Journal.open(path, {
      fsync: 'never',
      segmentBytes: 4096,
      retainSegments: 2,
      durableSeq: () => durable,
    });
    const origin = (() => {
      journal.append('session.start', { n: 1 });
      return Journal.origin(path);
    })();
    for (let i = 0; i < 5; i++) {
      while (!journal.rotationDue) journal.append('order.accepted', fillerData);
      journal.rotate();
      journal.append(SNAPSHOT_ENTRY, { v: 1, origin });
    }
    // Nothing durable: all five kept.
    expect(listSegments(path)).toHaveLength(5);
    durable = (listSegments(path)[1] as { lastSeq: number }).lastSeq;
    expect(journal.prune()).toBe(2);
    expect(listSegments(path)).toHaveLength(3);
    durable = journal.lastSeq;
    expect(journal.prune()).toBe(1);
    expect(listSegments(path)).toHaveLength(2);
    expect(journal.pruned).toBe(3);
    // The journal's identity survives the deletion of its first segment (the snapshot entries carry it).
    expect(Journal.origin(path)).toBe(origin);
    journal.close();
    const noRetention = Journal.open(tmpJournal(), { retainSegments: 0, durableSeq: () => 1e9 });
    expect(noRetention.journal.prune()).toBe(0);
    noRetention.journal.close();
  });

  it('opens a single-file journal from before segments as its first segment and rotates it when due', () => {
    const path = tmpJournal();
    const lines = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({ seq: i + 1, ts: 1_700_000_000_000 + i, type: 'order.accepted', data: fillerData }),
    );
    writeFileSync(path, `${lines.join('\n')}\n`);
    const { journal, recovery } = Journal.open(path, { fsync: 'never', segmentBytes: 4096 });
    expect(recovery.entries).toHaveLength(100);
    expect(journal.rotationDue).toBe(true);
    journal.rotate();
    journal.append(SNAPSHOT_ENTRY, { v: 1 });
    journal.close();
    expect(listSegments(path).map((s) => [s.firstSeq, s.lastSeq])).toEqual([[1, 100]]);
    expect(Journal.read(path)).toHaveLength(101);
  });

  it('cuts after an entry across segments, keeping the cut lines', () => {
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    for (let i = 0; i < 3; i++) journal.append('a', { i });
    journal.rotate();
    for (let i = 0; i < 3; i++) journal.append('b', { i });
    journal.rotate();
    journal.append('c', {});
    journal.close();
    expect(cutJournalAfter(path, 2, 42)).toBe(5);
    expect(listSegments(path)).toEqual([]);
    expect(Journal.read(path).map((e) => e.seq)).toEqual([1, 2]);
    const kept = readFileSync(`${path}.uncommitted-42`, 'utf8').trim().split('\n');
    expect(kept.map((l) => (JSON.parse(l) as JournalEntry).seq)).toEqual([3, 4, 5, 6, 7]);
    // Nothing to cut.
    expect(cutJournalAfter(path, 2, 43)).toBe(0);
    expect(existsSync(`${path}.uncommitted-43`)).toBe(false);
  });

  it('validates its options', () => {
    for (const [opts, field] of [
      [{ segmentBytes: -1 }, 'segmentBytes'],
      [{ retainSegments: 1.5 }, 'retainSegments'],
    ] as const) {
      let error: unknown;
      try {
        Journal.open(tmpJournal(), opts);
      } catch (e) {
        error = e;
      }
      expect(isTraderError(error) && error.field).toBe(field);
    }
  });
});

/** A venue that acknowledges at once and fills every other order half, the rest whole. */
class InstantVenue implements ExecutionClient {
  readonly name = 'instant';
  readonly venueStateSurvivesRestart = true;
  #listeners: ((e: ExecutionEvent) => void)[] = [];
  #n = 0;
  submit(order: Readonly<Order>): void {
    const emit = (e: ExecutionEvent) => {
      for (const l of this.#listeners) l(e);
    };
    emit({ type: 'accepted', clientOrderId: order.clientOrderId, ts: Date.now() });
    const n = ++this.#n;
    const qty = n % 2 === 0 ? order.qty / 2 : order.qty;
    emit({
      type: 'fill',
      fill: {
        fillId: `${order.clientOrderId}-f`,
        clientOrderId: order.clientOrderId,
        symbol: order.symbol,
        side: order.side,
        price: 100 + (n % 7),
        qty,
        fee: 0.01,
        liquidity: 'taker',
        ts: Date.now(),
      },
    } as ExecutionEvent);
  }
  cancel(): void {}
  onEvent(listener: (e: ExecutionEvent) => void): void {
    this.#listeners.push(listener);
  }
  async close(): Promise<void> {}
  reconcile(): void {}
}

const idle: Strategy = { name: 'idle', onBook: () => undefined, stats: () => ({}) };

describe('TradingEngine journal rotation', () => {
  const config = loadConfig({
    env: {},
    overrides: {
      symbols: ['BTCUSDT', 'ETHUSDT'],
      instanceId: 'seg',
      risk: { maxOrdersPerSecond: 1_000_000, maxPositionNotional: 1e12, maxNotionalPerOrder: 1e12 },
    },
  });

  function engineOn(path: string) {
    const opened = Journal.open(path, { fsync: 'never', segmentBytes: 8192 });
    const engine = new TradingEngine({
      config,
      journal: opened.journal,
      strategy: idle,
      execution: new InstantVenue(),
    });
    return { engine, ...opened };
  }

  it('starts a segment with a snapshot; a replay of it alone rebuilds the state a full replay gives', async () => {
    const path = tmpJournal();
    const a = engineOn(path);
    a.engine.replay(a.recovery.entries);
    for (const s of ['BTCUSDT', 'ETHUSDT'])
      a.engine.onSnapshot(s, { lastUpdateId: 1, bids: [[99, 10]], asks: [[101, 10]] });
    const intents: OrderIntent[] = [];
    for (let i = 0; i < 400; i++)
      intents.push({
        symbol: i % 3 === 0 ? 'ETHUSDT' : 'BTCUSDT',
        side: i % 2 === 0 ? 'buy' : 'sell',
        type: 'limit',
        qty: 1 + (i % 4),
        price: 100,
      });
    for (const intent of intents) expect(a.engine.submit(intent)).toHaveProperty('clientOrderId');
    a.engine.cancel('seg-0000000398', 'test');
    a.engine.setTradingState('REDUCING', 'operator test');
    expect(a.engine.counters.journalRotations).toBeGreaterThan(2);
    const open = [...a.engine.orders.openOrders()].map((o) => ({ ...o }));
    expect(open.length).toBeGreaterThan(0);
    const positions = a.engine.portfolio.snapshots();
    const totals = a.engine.portfolio.totals();
    await a.engine.close();
    a.journal.close();

    const b = engineOn(path);
    expect(b.recovery.entries[0]?.type).toBe(SNAPSHOT_ENTRY);
    expect(b.recovery.entries.length).toBeLessThan(Journal.read(path).length / 2);
    b.engine.replay(b.recovery.entries, { reconcile: false });
    // The same state as after the last entry: positions, open orders with their fills, ids, the kill switch.
    expect(b.engine.portfolio.snapshots()).toEqual(positions);
    expect(b.engine.portfolio.totals()).toEqual(totals);
    expect([...b.engine.orders.openOrders()].map((o) => ({ ...o }))).toEqual(open);
    expect(b.engine.state).toBe('REDUCING');
    expect(b.engine.ids.last).toBe(400);
    // A fill the venue delivers again is still a duplicate after the restore.
    const partial = open.find((o) => o.filledQty > 0) as Order;
    expect(b.engine.orders.hasFill(`${partial.clientOrderId}-f`)).toBe(true);

    // A full replay from every segment gives the same.
    const full = new TradingEngine({
      config,
      journal: Journal.open(tmpJournal(), { fsync: 'never' }).journal,
      strategy: idle,
      execution: new InstantVenue(),
    });
    full.replay(Journal.read(path), { reconcile: false });
    expect(full.portfolio.snapshots()).toEqual(positions);
    expect([...full.orders.openOrders()].map((o) => ({ ...o }))).toEqual(open);
    await b.engine.close();
    await full.close();
    b.journal.close();
  });

  it('a snapshot of an unknown version is skipped on replay', async () => {
    const path = tmpJournal();
    const { journal } = Journal.open(path, { fsync: 'never' });
    journal.append(SNAPSHOT_ENTRY, { v: 7 });
    journal.close();
    const b = engineOn(path);
    expect(b.engine.replay(b.recovery.entries, { reconcile: false })).toMatchObject({ skipped: 1 });
    await b.engine.close();
    b.journal.close();
  });
});

describe('JournalFollower with segments', () => {
  it('starts a segment where the leader did and cuts an uncommitted tail across segments', async () => {
    const stream = new MemoryEventLog<TraderRecord>({ name: 'stream' });
    const entry = (seq: number, type = 'order.accepted'): TraderRecord =>
      ({ k: 'entry', entry: { seq, ts: 1_700_000_000_000 + seq, type, data: { seq } } }) as TraderRecord;
    for (let seq = 1; seq <= 5; seq++) stream.append(entry(seq));
    stream.append(entry(6, SNAPSHOT_ENTRY));
    stream.append(entry(7));
    const path = tmpJournal();
    // This data dir journaled (as a leader) two segments past what the stream holds at 4.
    const local = Journal.open(path, { fsync: 'never' });
    for (let seq = 1; seq <= 4; seq++) local.journal.append('order.accepted', { seq }, 1_700_000_000_000 + seq);
    local.journal.append('order.submitted', { mine: 1 });
    local.journal.rotate();
    local.journal.append(SNAPSHOT_ENTRY, { mine: 2 });
    local.journal.close();

    const follower = new JournalFollower(stream, path, { fsync: 'never' });
    await follower.start();
    await follower.finish();
    expect(follower.counts).toMatchObject({ truncated: 2, rotated: 1 });
    expect(Journal.read(path)).toEqual(
      (await stream.read(0, 100)).map((r) => (r.data as { entry: JournalEntry }).entry),
    );
    expect(listSegments(path).map((s) => [s.firstSeq, s.lastSeq])).toEqual([[1, 5]]);
    expect(Journal.open(path).recovery.entries.map((e) => e.seq)).toEqual([6, 7]);
    expect(readdirSync(join(path, '..')).some((n) => n.includes('uncommitted'))).toBe(true);
    await stream.close();
  });
});
