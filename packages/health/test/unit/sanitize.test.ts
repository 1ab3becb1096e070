import { describe, expect, it } from 'vitest';
import { describeError, sanitizeOutput } from '../../src/internal/sanitize.js';

describe('sanitizeOutput', () => {
  it('removes connection strings, credentials and stack traces', () => {
    expect(sanitizeOutput('connect to postgres://app:s3cret@db.internal:5432/prod failed')).toBe(
      'connect to [redacted-url] failed',
    );
    expect(sanitizeOutput('redis://127.0.0.1:6379 refused')).toBe('[redacted-url] refused');
    expect(sanitizeOutput('GET https://user:pw@api.example.com/x')).toBe('GET [redacted-url]');
    expect(sanitizeOutput('password=hunter2; host=x')).toBe('password=[redacted]; host=x');
    expect(sanitizeOutput('Authorization: Bearer abc.def.ghi')).not.toContain('abc.def');
    expect(sanitizeOutput('Error: boom\n    at foo (/app/x.js:1:1)\n    at bar')).toBe('Error: boom');
    expect(sanitizeOutput('x'.repeat(500))).toHaveLength(200);
    const s = sanitizeOutput('no secrets here');
    expect(s).toBe('no secrets here');
  });

  it('describes thrown values without stacks', () => {
    const e = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    expect(describeError(e)).toBe('connect ECONNREFUSED 127.0.0.1:6379');
    const f = Object.assign(new Error('pool exhausted'), { code: 'E_POOL' });
    expect(describeError(f)).toBe('E_POOL: pool exhausted');
    expect(describeError('postgres://u:p@h/db down')).toBe('[redacted-url] down');
    expect(describeError(42)).toBe('check failed');
    expect(describeError(new Error(''))).toBe('Error');
  });
});
