import { describe, expect, it } from 'vitest';
import { DEFAULTS, InvalidOptionError, isDbPoolError, PoolManager } from '../../src/index.js';
import { checkQueryOptions, hostLabel, resolveOptions } from '../../src/options.js';

const primary = { connectionString: 'postgres://postgres@127.0.0.1:5432/test' };

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(isDbPoolError(error)).toBe(true);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).code).toBe('E_DB_INVALID_OPTION');
    return (error as InvalidOptionError).field;
  }
  return undefined;
}

describe('options', () => {
  it('fills defaults', () => {
    const o = resolveOptions({ primary });
    expect(o.name).toBe('postgres');
    expect(o.pool).toEqual(DEFAULTS.pool);
    expect(o.retry.maxAttempts).toBe(3);
    expect(o.primaries).toHaveLength(1);
    expect(o.replicas).toEqual([]);
    expect(o.prepare).toBe(true);
  });

  it.each([
    [{}, 'primary'],
    [{ primary: [] }, 'primary'],
    [{ primary: 'x' }, 'primary'],
    [{ primary: { connectionString: 'http://x' } }, 'primary.connectionString'],
    [{ primary: [primary, { connectionString: '' }] }, 'primary[1].connectionString'],
    [{ primary: { host: 'h', port: 70000 } }, 'primary.port'],
    [{ primary, replicas: {} }, 'replicas'],
    [{ primary, replicas: [{ connectionString: 5 }] }, 'replicas[0].connectionString'],
    [{ primary, name: '' }, 'name'],
    [{ primary, pool: { max: 0 } }, 'pool.max'],
    [{ primary, pool: { max: 5, min: 6 } }, 'pool.min'],
    [{ primary, pool: { lifetimeJitter: 2 } }, 'pool.lifetimeJitter'],
    [{ primary, pool: { idleTimeoutMs: 'x' } }, 'pool.idleTimeoutMs'],
    [{ primary, pool: 3 }, 'pool'],
    [{ primary, retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ primary, retry: { baseDelayMs: 100, maxDelayMs: 10 } }, 'retry.maxDelayMs'],
    [{ primary, retry: { budgetRatio: 1.5 } }, 'retry.budgetRatio'],
    [{ primary, breaker: { enabled: 'yes' } }, 'breaker.enabled'],
    [{ primary, breaker: { errorThresholdPercentage: 0 } }, 'breaker.errorThresholdPercentage'],
    [{ primary, replica: { balance: 'random' } }, 'replica.balance'],
    [{ primary, replica: { lagCheckIntervalMs: 1 } }, 'replica.lagCheckIntervalMs'],
    [{ primary, failover: { timeoutMs: 0 } }, 'failover.timeoutMs'],
    [{ primary, statementTimeoutMs: -1 }, 'statementTimeoutMs'],
    [{ primary, slowQueryMs: 1.5 }, 'slowQueryMs'],
    [{ primary, onSlowQuery: 'log' }, 'onSlowQuery'],
    [{ primary, prepare: 1 }, 'prepare'],
    [{ primary, maxTrackedStatements: 0 }, 'maxTrackedStatements'],
    [{ primary, onConnectWait: 'log' }, 'onConnectWait'],
    [{ primary, failover: { progressIntervalMs: 1 } }, 'failover.progressIntervalMs'],
    // Unknown keys: a misspelt option must not silently keep its default.
    [{ primary, poolSize: 5 }, 'poolSize'],
    [{ primary, pool: { maxSize: 5 } }, 'pool.maxSize'],
    [{ primary, retry: { attempts: 2 } }, 'retry.attempts'],
    [{ primary, breaker: { threshold: 2 } }, 'breaker.threshold'],
    [{ primary, replica: { maxLagMs: 2 } }, 'replica.maxLagMs'],
    [{ primary, failover: { timeout: 2 } }, 'failover.timeout'],
  ])('rejects %j naming %s', (options, field) => {
    expect(fieldOf(() => new PoolManager(options as never))).toBe(field);
  });

  it.each([
    [{ role: 'reader' }, 'role'],
    [{ timeoutMs: -5 }, 'timeoutMs'],
    [{ timeoutMs: Number.NaN }, 'timeoutMs'],
    [{ timeoutMs: '100' }, 'timeoutMs'],
    [{ priority: 0.5 }, 'priority'],
    [{ timeout: 100 }, 'timeout'],
  ])('rejects query options %j naming %s', (options, field) => {
    expect(fieldOf(() => checkQueryOptions(options as never))).toBe(field);
  });

  it('accepts every documented query option', () => {
    expect(
      fieldOf(() =>
        checkQueryOptions({
          role: 'read',
          timeoutMs: 0,
          signal: new AbortController().signal,
          name: 'q',
          idempotent: true,
          priority: 2,
          prepare: false,
        }),
      ),
    ).toBeUndefined();
  });

  it('rejects a non-object', () => {
    expect(fieldOf(() => resolveOptions(null as never))).toBe('options');
  });

  it('labels hosts without credentials', () => {
    expect(hostLabel({ connectionString: 'postgres://u:secret@db.local:6543/x' })).toBe('db.local:6543');
    expect(hostLabel({ connectionString: 'postgres://u@db.local/x' })).toBe('db.local:5432');
    expect(hostLabel({ host: 'h', port: 1 })).toBe('h:1');
    expect(hostLabel({})).toBe('localhost:5432');
  });
});
