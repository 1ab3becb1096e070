import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { isTraderError } from '../../src/errors.js';

const engine = {
  TRADER_ROLE: 'engine',
  REDIS_URL: 'redis://127.0.0.1:6379',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
};

/** The field a configuration error names. */
function fieldOf(env: Record<string, string>): string | undefined {
  try {
    loadConfig({ env });
  } catch (e) {
    if (isTraderError(e)) return e.field;
    throw e;
  }
  return undefined;
}

describe('ha configuration', () => {
  it('is off by default and takes its fields from TRADER_HA_*', () => {
    expect(loadConfig({ env: {} }).ha).toEqual({
      enabled: false,
      leaseTtlMs: 2000,
      renewIntervalMs: 500,
      holderId: '',
      strategyStateMs: 1000,
    });
    const c = loadConfig({
      env: { ...engine, TRADER_HA_ENABLED: 'true', TRADER_HA_LEASE_TTL_MS: '3000', TRADER_HA_HOLDER_ID: 'eng-a' },
    });
    expect(c.ha).toMatchObject({ enabled: true, leaseTtlMs: 3000, holderId: 'eng-a' });
  });

  it('refuses what cannot work, naming the field', () => {
    expect(fieldOf({ TRADER_HA_ENABLED: 'true' })).toBe('ha.enabled'); // role all
    expect(fieldOf({ ...engine, DATABASE_URL: '', TRADER_HA_ENABLED: 'true' })).toBe('database.url');
    expect(fieldOf({ ...engine, TRADER_HA_ENABLED: 'true', TRADER_HA_RENEW_INTERVAL_MS: '1000' })).toBe(
      'ha.renewIntervalMs',
    );
    expect(fieldOf({ ...engine, TRADER_HA_LEASE_TTL_MS: '10' })).toBe('ha.leaseTtlMs');
    expect(fieldOf({ ...engine, TRADER_HA_HOLDER_ID: 'a b' })).toBe('ha.holderId');
    expect(fieldOf({ ...engine, TRADER_HA_STRATEGY_STATE_MS: '-1' })).toBe('ha.strategyStateMs');
    expect(fieldOf({ ...engine, TRADER_JOURNAL_SEGMENT_BYTES: '100' })).toBe('journal.segmentBytes');
    expect(fieldOf({ ...engine, TRADER_JOURNAL_RETAIN_SEGMENTS: '-1' })).toBe('journal.retainSegments');
    expect(fieldOf({ ...engine, TRADER_HA_FOO: '1' })).toBeDefined();
  });
});
