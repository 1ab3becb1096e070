import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  CommitUnknownError,
  DbPoolError,
  isCircuitOpenError,
  isCommitUnknownError,
  isDbPoolError,
  isPoolExhaustedError,
  isQueryError,
  isQueryTimeoutError,
  PoolExhaustedError,
  QueryError,
  QueryTimeoutError,
} from '../../src/index.js';

describe('errors', () => {
  it('carry name, code, context and cause', () => {
    const cause = new Error('boom');
    const e = new QueryError('syntax error', { sqlState: '42601', statementName: 'cs_1', host: 'h:1', cause });
    expect(e).toBeInstanceOf(DbPoolError);
    expect(e.name).toBe('QueryError');
    expect(e.code).toBe('E_DB_QUERY');
    expect(e.sqlState).toBe('42601');
    expect(e.statementName).toBe('cs_1');
    expect(e.host).toBe('h:1');
    expect(e.cause).toBe(cause);
    expect(isQueryError(e)).toBe(true);
    expect(isQueryTimeoutError(e)).toBe(false);
  });

  it('have stable codes', () => {
    expect(new PoolExhaustedError('E_DB_POOL_QUEUE_FULL', 'full').code).toBe('E_DB_POOL_QUEUE_FULL');
    expect(new CommitUnknownError().code).toBe('E_DB_COMMIT_UNKNOWN');
    expect(new CircuitOpenError({ host: 'x:1' }).message).toContain('x:1');
    expect(new QueryTimeoutError(50).timeoutMs).toBe(50);
    expect(isPoolExhaustedError(new PoolExhaustedError('E_DB_POOL_ACQUIRE_TIMEOUT', 't'))).toBe(true);
    expect(isCommitUnknownError(new CommitUnknownError())).toBe(true);
    expect(isCircuitOpenError(new CircuitOpenError())).toBe(true);
  });

  it('type guards work across duplicate installs (brand symbol, not instanceof)', () => {
    const foreign = Object.assign(new Error('x'), {
      code: 'E_DB_COMMIT_UNKNOWN',
      [Symbol.for('cryptoscalp.db-pool.error')]: true,
    });
    expect(isDbPoolError(foreign)).toBe(true);
    expect(isCommitUnknownError(foreign)).toBe(true);
    expect(isDbPoolError(new Error('plain'))).toBe(false);
    expect(isDbPoolError(null)).toBe(false);
    expect(isDbPoolError('E_DB_QUERY')).toBe(false);
  });
});
