import { describe, expect, it } from 'vitest';
import { Session } from '../../src/index.js';

describe('Session LSN bookkeeping', () => {
  it('keeps the highest LSN and pins to the primary when a position is unknown', () => {
    const s = new Session({} as never);
    s.noteLsn('0/16B3748');
    expect(s.lastWriteLsn).toBe('0/16B3748');
    s.noteLsn('0/1000000');
    expect(s.lastWriteLsn).toBe('0/16B3748');
    s.noteLsn('1/0');
    expect(s.minLsn).toBe(1n << 32n);
    s.noteLsn(undefined);
    expect(s.minLsn).toBe((1n << 64n) - 1n);
    s.noteLsn('0/5');
    expect(s.minLsn).toBe(5n);
  });
});
