import { describe, expect, it } from 'vitest';
import { MemoryCommandBus } from '../../src/bus/memory-command-bus.js';
import { MemoryEventLog } from '../../src/bus/memory-event-log.js';
import { commandBusContract, eventLogContract, startAll, type TestEvent, traderErrorFrom } from './bus-contract.js';

describe('MemoryEventLog: EventLog contract', () => {
  eventLogContract(async () => {
    const log = new MemoryEventLog<TestEvent>();
    return { writer: log, reader: log, ...(await startAll(log)) };
  });
});

describe('MemoryCommandBus: CommandBus contract', () => {
  commandBusContract(async () => {
    const bus = new MemoryCommandBus();
    return { gateway: bus, engine: bus, ...(await startAll(bus)) };
  });
});

describe('MemoryEventLog', () => {
  it('rejects unknown and invalid options naming the field', () => {
    const unknown = traderErrorFrom(() => new MemoryEventLog({ maxLen: 5 } as never));
    expect(unknown.code).toBe('E_TRADER_INVALID_OPTION');
    expect(unknown.field).toBe('maxLen');
    expect(traderErrorFrom(() => new MemoryEventLog({ maxLength: 0 })).field).toBe('maxLength');
    expect(traderErrorFrom(() => new MemoryCommandBus({ timeoutMs: -1 })).field).toBe('timeoutMs');
    expect(traderErrorFrom(() => new MemoryCommandBus({ queue: 1 } as never)).field).toBe('queue');
  });

  it('trims beyond maxLength, and a tail behind the trim reports the gap', async () => {
    const log = new MemoryEventLog<number>({ maxLength: 10, batchSize: 4 });
    for (let n = 1; n <= 30; n++) log.append(n);
    const held = await log.read(0, 100);
    expect(held[0]?.offset).toBeGreaterThan(1);
    expect(held[held.length - 1]?.offset).toBe(30);
    expect(held.map((r) => r.offset)).toEqual(held.map((_, i) => (held[0]?.offset ?? 0) + i));
    const got: number[][] = [];
    const tail = log.tail(0, (records) => got.push(records.map((r) => r.data)));
    await new Promise((r) => setTimeout(r, 20));
    await tail.stop();
    expect(got.flat()).toEqual(held.map((r) => r.data));
    expect(Math.max(...got.map((b) => b.length))).toBeLessThanOrEqual(4);
    expect(log.stats().gaps).toBe(1);
    expect(log.stats().skipped).toBe((held[0]?.offset ?? 0) - 1);
    expect((await log.healthCheck()).status).toBe('warn');
  });

  it('counts a throwing tail callback and keeps delivering', async () => {
    const log = new MemoryEventLog<number>();
    const got: number[] = [];
    const tail = log.tail(0, (records) => {
      got.push(...records.map((r) => r.offset));
      throw new Error('consumer bug');
    });
    log.append(1);
    await new Promise((r) => setImmediate(r));
    log.append(2);
    await new Promise((r) => setTimeout(r, 10));
    await tail.stop();
    expect(got).toEqual([1, 2]);
    expect(log.stats().handlerErrors).toBe(2);
  });
});

describe('MemoryCommandBus', () => {
  it('bounds the reply cache: an id older than replyCacheSize commands is applied again', async () => {
    const bus = new MemoryCommandBus({ replyCacheSize: 2 });
    let applied = 0;
    bus.serve(() => ++applied);
    await bus.send('a', {}, { id: 'one' });
    await bus.send('a', {}, { id: 'two' });
    expect(await bus.send('a', {}, { id: 'one' })).toMatchObject({ result: 1 });
    await bus.send('a', {}, { id: 'three' });
    await bus.send('a', {}, { id: 'four' });
    expect(await bus.send('a', {}, { id: 'one' })).toMatchObject({ result: 5 });
    await bus.close();
  });

  it('refuses sends beyond maxPending with E_TRADER_BUS', async () => {
    const bus = new MemoryCommandBus({ maxPending: 2 });
    const waiting = [bus.send('a', {}, { timeoutMs: 1_000 }), bus.send('b', {}, { timeoutMs: 1_000 })];
    await expect(bus.send('c', {})).rejects.toMatchObject({ code: 'E_TRADER_BUS' });
    await bus.close();
    await Promise.allSettled(waiting);
  });
});
