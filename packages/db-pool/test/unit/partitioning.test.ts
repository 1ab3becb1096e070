import { describe, expect, it } from 'vitest';
import {
  addIntervals,
  InvalidOptionError,
  partitionName,
  partitionStart,
  validatePartitionSpec,
} from '../../src/index.js';

const d = (s: string) => new Date(s);

describe('partition arithmetic', () => {
  it('finds partition starts in UTC', () => {
    expect(partitionStart(d('2024-03-10T13:45:00Z'), 'hour').toISOString()).toBe('2024-03-10T13:00:00.000Z');
    expect(partitionStart(d('2024-03-10T13:45:00Z'), 'day').toISOString()).toBe('2024-03-10T00:00:00.000Z');
    // 2024-03-10 is a Sunday: its ISO week started Monday 2024-03-04
    expect(partitionStart(d('2024-03-10T13:45:00Z'), 'week').toISOString()).toBe('2024-03-04T00:00:00.000Z');
    expect(partitionStart(d('2024-03-11T00:00:00Z'), 'week').toISOString()).toBe('2024-03-11T00:00:00.000Z');
    expect(partitionStart(d('2024-03-10T13:45:00Z'), 'month').toISOString()).toBe('2024-03-01T00:00:00.000Z');
  });

  it('adds intervals across month and year ends', () => {
    expect(addIntervals(d('2024-12-31T23:00:00Z'), 'hour', 2).toISOString()).toBe('2025-01-01T01:00:00.000Z');
    expect(addIntervals(d('2024-02-28T00:00:00Z'), 'day', 1).toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect(addIntervals(d('2024-12-30T00:00:00Z'), 'week', 1).toISOString()).toBe('2025-01-06T00:00:00.000Z');
    expect(addIntervals(d('2024-11-01T00:00:00Z'), 'month', 3).toISOString()).toBe('2025-02-01T00:00:00.000Z');
    expect(addIntervals(d('2024-03-01T00:00:00Z'), 'month', -1).toISOString()).toBe('2024-02-01T00:00:00.000Z');
  });

  it('names partitions', () => {
    expect(partitionName('trades', d('2024-03-10T00:00:00Z'), 'day')).toBe('trades_p20240310');
    expect(partitionName('s.trades', d('2024-03-10T07:00:00Z'), 'hour')).toBe('trades_p2024031007');
  });

  it.each([
    [{ table: 'Trades; drop', column: 'ts', interval: 'day' }, 'table'],
    [{ table: 'a.b.c', column: 'ts', interval: 'day' }, 'table'],
    [{ table: 't', column: 'ts x', interval: 'day' }, 'column'],
    [{ table: 't', column: 'ts', interval: 'year' }, 'interval'],
    [{ table: 't', column: 'ts', interval: 'day', premake: -1 }, 'premake'],
    [{ table: 't', column: 'ts', interval: 'day', retention: 1.5 }, 'retention'],
    [{ table: 't', column: 'ts', interval: 'day', onExpired: 'archive' }, 'onExpired'],
  ])('rejects %j naming %s', (spec, field) => {
    let caught: unknown;
    try {
      validatePartitionSpec(spec as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    expect((caught as InvalidOptionError).field).toBe(field);
  });
});
