// The behaviour every EventLog and CommandBus implementation shares, as test suites that each implementation's test
// file runs against its own factory (memory in the unit project, Redis in the integration project).
import { waitFor } from '@cryptoscalp/testkit';
import { expect, it } from 'vitest';
import type { Command, CommandBus, EventLog, LogRecord } from '../../src/bus/types.js';
import { isTraderError, TraderError } from '../../src/errors.js';

/** Event data used by the contract tests. */
export interface TestEvent {
  n: number;
  text: string;
}

/** A started log to write to and a started log (the same one, or another instance on the same log) to read from. */
export interface EventLogFixture {
  writer: EventLog<TestEvent>;
  reader: EventLog<TestEvent>;
  dispose(): Promise<void>;
}

/** A started gateway side and engine side (the same instance for the in-memory bus). Nothing serves yet. */
export interface CommandBusFixture {
  gateway: CommandBus;
  engine: CommandBus;
  dispose(): Promise<void>;
}

function event(n: number): TestEvent {
  return { n, text: `event ${n} ${'x'.repeat(n % 7)}` };
}

/** Rejection of `promise` as a TraderError (fails the test if it resolves or rejects with something else). */
export async function traderErrorOf(promise: Promise<unknown>): Promise<TraderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isTraderError(error)) throw new Error(`expected a TraderError, got ${String(error)}`);
  return error;
}

/** Thrown error of `fn` as a TraderError. */
export function traderErrorFrom(fn: () => unknown): TraderError {
  try {
    fn();
  } catch (e) {
    if (isTraderError(e)) return e;
    throw new Error(`expected a TraderError, got ${String(e)}`);
  }
  throw new Error('expected a TraderError, nothing was thrown');
}

/** Something a test starts and must close again, whatever the test's outcome. */
interface Lifecycle {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Starts `parts` in order and returns the fixture's `dispose`, which closes them in the same order. */
export async function startAll(...parts: Lifecycle[]): Promise<{ dispose(): Promise<void> }> {
  for (const part of parts) await part.start();
  return {
    dispose: async () => {
      for (const part of parts) await part.close();
    },
  };
}

/** A test body run on a fresh fixture from `make`, disposed afterwards even when the test fails. */
function withFixture<F extends { dispose(): Promise<void> }>(make: () => Promise<F>) {
  return (fn: (f: F) => Promise<void>) => async () => {
    const f = await make();
    try {
      await fn(f);
    } finally {
      await f.dispose();
    }
  };
}

/** Registers the EventLog contract tests. `make` returns a fresh, started, empty log for each test. */
export function eventLogContract(make: () => Promise<EventLogFixture>): void {
  const withLog = withFixture(make);

  it(
    'assigns gapless offsets from 1, and reads them back in order with their data',
    withLog(async ({ writer, reader }) => {
      expect(typeof writer.epoch).toBe('string');
      expect(writer.epoch.length).toBeGreaterThan(0);
      expect(reader.epoch).toBe(writer.epoch);
      expect(await reader.lastOffset()).toBe(0);
      const before = Date.now();
      const offsets = Array.from({ length: 25 }, (_, i) => writer.append(event(i + 1)));
      expect(offsets).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      await writer.flush();
      expect(await reader.lastOffset()).toBe(25);
      const all = await reader.read(0, 100);
      expect(all.map((r) => r.offset)).toEqual(offsets);
      expect(all.map((r) => r.data)).toEqual(offsets.map(event));
      for (const r of all) expect(r.ts).toBeGreaterThanOrEqual(before - 1);
      const page = await reader.read(10, 5);
      expect(page.map((r) => r.offset)).toEqual([11, 12, 13, 14, 15]);
      expect(await reader.read(25, 10)).toEqual([]);
      expect(writer.stats().appended).toBe(25);
      expect(writer.stats().pending).toBe(0);
      expect((await traderErrorOf(reader.read(-1, 5))).code).toBe('E_TRADER_INVALID_OPTION');
      expect((await traderErrorOf(reader.read(0, 0))).field).toBe('limit');
    }),
  );

  it(
    'tails history then live records, in order, each once, never inside append',
    withLog(async ({ writer, reader }) => {
      for (let n = 1; n <= 30; n++) writer.append(event(n));
      await writer.flush();
      const got: LogRecord<TestEvent>[] = [];
      let inAppend = false;
      let reentrant = 0;
      const tail = reader.tail(0, (records) => {
        if (inAppend) reentrant++;
        got.push(...records);
      });
      try {
        await waitFor(() => got.length >= 30, { what: 'history delivered' });
        for (let n = 31; n <= 80; n++) {
          inAppend = true;
          writer.append(event(n));
          inAppend = false;
          if (n % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        }
        await writer.flush();
        await waitFor(() => got.length >= 80, { what: 'live records delivered' });
        await new Promise((r) => setTimeout(r, 50)); // a duplicate would arrive now
        expect(got.map((r) => r.offset)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
        expect(got.map((r) => r.data.n)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
        expect(reentrant).toBe(0);
        expect(reader.stats().delivered).toBeGreaterThanOrEqual(80);
        expect(typeof reader.stats().lagMs).toBe('number');
      } finally {
        await tail.stop();
      }
      // Stopped: nothing more is delivered.
      writer.append(event(81));
      await writer.flush();
      await new Promise((r) => setTimeout(r, 50));
      expect(got).toHaveLength(80);
    }),
  );

  it(
    'resumes a tail after a given offset',
    withLog(async ({ writer, reader }) => {
      for (let n = 1; n <= 20; n++) writer.append(event(n));
      await writer.flush();
      const got: number[] = [];
      const tail = reader.tail(12, (records) => got.push(...records.map((r) => r.offset)));
      try {
        await waitFor(() => got.length >= 8, { what: 'records after 12' });
        writer.append(event(21));
        await waitFor(() => got.length >= 9, { what: 'live record 21' });
        expect(got).toEqual([13, 14, 15, 16, 17, 18, 19, 20, 21]);
      } finally {
        await tail.stop();
      }
    }),
  );

  it(
    'saves and loads a snapshot beside the log',
    withLog(async ({ writer, reader }) => {
      expect(await reader.loadSnapshot()).toBeUndefined();
      for (let n = 1; n <= 5; n++) writer.append(event(n));
      await writer.flush();
      await writer.saveSnapshot(5, JSON.stringify({ total: 15 }));
      expect(await reader.loadSnapshot()).toEqual({ offset: 5, json: '{"total":15}' });
      await writer.saveSnapshot(5, '{"total":16}');
      expect(await reader.loadSnapshot()).toEqual({ offset: 5, json: '{"total":16}' });
      expect((await traderErrorOf(writer.saveSnapshot(-1, '{}'))).code).toBe('E_TRADER_INVALID_OPTION');
    }),
  );

  it(
    'reports health, and refuses appends after close (close is idempotent)',
    withLog(async ({ writer }) => {
      writer.append(event(1));
      await writer.flush();
      const health = await writer.healthCheck();
      expect(health.status).toBe('pass');
      expect(typeof health.observedValue).toBe('number');
      expect(writer.name).toBe('event-log');
      await writer.close();
      await writer.close();
      expect(traderErrorFrom(() => writer.append(event(2))).code).toBe('E_TRADER_BUS');
    }),
  );
}

/** Registers the CommandBus contract tests. `make` returns a fresh, started bus pair with nothing serving. */
export function commandBusContract(make: () => Promise<CommandBusFixture>): void {
  const withBus = withFixture(make);

  it(
    'round-trips a command to the handler and its result back',
    withBus(async ({ gateway, engine }) => {
      const seen: Command[] = [];
      engine.serve((command) => {
        seen.push(command);
        return { echo: command.payload, type: command.type };
      });
      const before = Date.now();
      const reply = await gateway.send('set-param', { threshold: 0.2 }, { timeoutMs: 2_000 });
      expect(reply).toEqual({ id: seen[0]?.id, ok: true, result: { echo: { threshold: 0.2 }, type: 'set-param' } });
      expect(seen).toHaveLength(1);
      const command = seen[0] as Command;
      expect(command.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(command.deadline).toBeGreaterThanOrEqual(before + 2_000);
      expect(command.deadline).toBeLessThanOrEqual(Date.now() + 2_000);
      expect(typeof command.origin).toBe('string');
      expect(gateway.stats().replied).toBe(1);
      expect(engine.stats().handled).toBe(1);
      expect((await engine.healthCheck()).status).toBe('pass');
      expect(traderErrorFrom(() => engine.serve(() => 1)).code).toBe('E_TRADER_BUS');
    }),
  );

  it(
    'handles commands one at a time in arrival order',
    withBus(async ({ gateway, engine }) => {
      const order: number[] = [];
      let active = 0;
      let maxActive = 0;
      engine.serve(async (command) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 2));
        order.push((command.payload as { i: number }).i);
        active--;
        return (command.payload as { i: number }).i;
      });
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => gateway.send('seq', { i }, { timeoutMs: 5_000 })),
      );
      expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(maxActive).toBe(1);
      expect(replies.map((r) => (r.ok ? r.result : undefined))).toEqual(order);
    }),
  );

  it(
    'rejects with E_TRADER_COMMAND_TIMEOUT when no engine answers, within the timeout and a little',
    withBus(async ({ gateway }) => {
      const t0 = Date.now();
      const error = await traderErrorOf(gateway.send('nobody-home', {}, { timeoutMs: 300 }));
      const elapsed = Date.now() - t0;
      expect(error.code).toBe('E_TRADER_COMMAND_TIMEOUT');
      expect(elapsed).toBeGreaterThanOrEqual(295);
      expect(elapsed).toBeLessThan(300 + 400);
      expect(gateway.stats().timeouts).toBe(1);
      expect(gateway.stats().pending).toBe(0);
      const invalid = await traderErrorOf(gateway.send('x', {}, { timeoutMs: 0 }));
      expect([invalid.code, invalid.field]).toEqual(['E_TRADER_INVALID_OPTION', 'timeoutMs']);
      expect((await traderErrorOf(gateway.send('', {}))).field).toBe('type');
    }),
  );

  it(
    'does not apply a command that reaches the engine after its deadline',
    withBus(async ({ gateway, engine }) => {
      const applied: string[] = [];
      const late = gateway.send('late', {}, { timeoutMs: 40 });
      expect((await traderErrorOf(late)).code).toBe('E_TRADER_COMMAND_TIMEOUT');
      await new Promise((r) => setTimeout(r, 20));
      engine.serve((command) => {
        applied.push(command.type);
        return 'done';
      });
      const reply = await gateway.send('fresh', {}, { timeoutMs: 3_000 });
      expect(reply.ok).toBe(true);
      expect(applied).toEqual(['fresh']);
      expect(engine.stats().expired).toBe(1);
      expect(engine.stats().handled).toBe(1);
    }),
  );

  it(
    'applies a repeated command id once and answers the repeat with the stored reply',
    withBus(async ({ gateway, engine }) => {
      let applied = 0;
      engine.serve(() => ++applied);
      const first = await gateway.send('fill-ack', { qty: 1 }, { id: 'cmd-dup-1', timeoutMs: 3_000 });
      const second = await gateway.send('fill-ack', { qty: 1 }, { id: 'cmd-dup-1', timeoutMs: 3_000 });
      expect(first).toEqual({ id: 'cmd-dup-1', ok: true, result: 1 });
      expect(second).toEqual(first);
      expect(applied).toBe(1);
      expect(engine.stats().duplicates).toBe(1);
      const other = await gateway.send('fill-ack', { qty: 1 }, { id: 'cmd-dup-2', timeoutMs: 3_000 });
      expect(other).toEqual({ id: 'cmd-dup-2', ok: true, result: 2 });
    }),
  );

  it(
    "maps a handler's error to ok:false with its code, message and field",
    withBus(async ({ gateway, engine }) => {
      engine.serve((command) => {
        if (command.type === 'typed')
          throw new TraderError('E_TRADER_INVALID_OPTION', 'qty must be > 0', { field: 'qty' });
        throw new Error('plain failure');
      });
      const typed = await gateway.send('typed', { qty: 0 }, { timeoutMs: 3_000 });
      expect(typed).toMatchObject({
        ok: false,
        error: { code: 'E_TRADER_INVALID_OPTION', message: 'qty must be > 0', field: 'qty' },
      });
      const plain = await gateway.send('plain', {}, { timeoutMs: 3_000 });
      expect(plain).toMatchObject({ ok: false, error: { code: 'E_TRADER_COMMAND_FAILED', message: 'plain failure' } });
      expect(plain.ok === false && 'field' in plain.error).toBe(false);
      expect(engine.stats().handlerErrors).toBe(2);
    }),
  );

  it(
    'rejects waiting sends with E_TRADER_BUS on close, and sends after close',
    withBus(async ({ gateway }) => {
      const waiting = traderErrorOf(gateway.send('never', {}, { timeoutMs: 5_000 }));
      await new Promise((r) => setTimeout(r, 30));
      await gateway.close();
      expect((await waiting).code).toBe('E_TRADER_BUS');
      expect((await traderErrorOf(gateway.send('after', {}))).code).toBe('E_TRADER_BUS');
      await gateway.close();
    }),
  );
}
