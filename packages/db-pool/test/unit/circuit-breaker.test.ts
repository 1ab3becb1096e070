import diagnosticsChannel from 'node:diagnostics_channel';
import { waitFor } from '@cryptoscalp/testkit';
import { describe, expect, it } from 'vitest';
import { HostBreaker } from '../../src/circuit-breaker.js';
import {
  BREAKER_CHANNEL,
  type BreakerEvent,
  ConnectionError,
  DEFAULTS,
  isCircuitOpenError,
  QueryError,
} from '../../src/index.js';

const options = { ...DEFAULTS.breaker, volumeThreshold: 4, resetTimeoutMs: 50, slowCallMs: 20 };
const fail = () => Promise.reject(new ConnectionError('refused', { sent: false }));
const ok = () => Promise.resolve('ok');

describe('HostBreaker', () => {
  it('opens after the failure threshold, half-opens, and closes on a successful trial', async () => {
    const events: BreakerEvent[] = [];
    const onEvent = (m: unknown) => {
      events.push(m as BreakerEvent);
    };
    diagnosticsChannel.subscribe(BREAKER_CHANNEL, onEvent);
    const b = new HostBreaker('h:1', 'unit-breaker', options);
    try {
      expect(b.state).toBe('closed');
      for (let i = 0; i < 4; i++) await expect(b.run(fail)).rejects.toThrow('refused');
      await waitFor(() => b.state === 'open');
      const rejected = await b.run(ok).catch((e) => e);
      expect(isCircuitOpenError(rejected)).toBe(true);
      expect(b.rejected).toBe(1);
      expect(b.allows).toBe(false);
      await waitFor(() => b.state === 'half-open', { timeoutMs: 2_000 });
      expect(await b.run(ok)).toBe('ok');
      expect(b.state).toBe('closed');
      expect(events.filter((e) => e.component === 'unit-breaker').map((e) => e.state)).toEqual([
        'open',
        'half-open',
        'closed',
      ]);
    } finally {
      diagnosticsChannel.unsubscribe(BREAKER_CHANNEL, onEvent);
      b.shutdown();
    }
  });

  it('does not count caller mistakes (non-transient SQL errors)', async () => {
    const b = new HostBreaker('h:1', 'c', options);
    try {
      for (let i = 0; i < 10; i++) {
        await b.run(() => Promise.reject(new QueryError('dup', { sqlState: '23505' }))).catch(() => {});
      }
      expect(b.state).toBe('closed');
      // 20 transient failures out of 30 calls: 67% > 50%
      for (let i = 0; i < 20; i++) {
        await b.run(() => Promise.reject(new QueryError('serialization', { sqlState: '40001' }))).catch(() => {});
      }
      await waitFor(() => b.state === 'open', { timeoutMs: 2_000 });
    } finally {
      b.shutdown();
    }
  });

  it('counts slow successes as failures but still returns their result', async () => {
    const b = new HostBreaker('h:1', 'c', options);
    try {
      for (let i = 0; i < 4; i++) {
        expect(await b.run(() => new Promise((r) => setTimeout(() => r(i), 30)))).toBe(i);
      }
      expect(b.slowCalls).toBe(4);
      await waitFor(() => b.state === 'open');
      // slowCheck: false (transactions) never counts duration
      const c = new HostBreaker('h:2', 'c', options);
      for (let i = 0; i < 4; i++) await c.run(() => new Promise((r) => setTimeout(r, 30)), false);
      expect(c.state).toBe('closed');
      c.shutdown();
    } finally {
      b.shutdown();
    }
  });

  it('can be disabled', async () => {
    const b = new HostBreaker('h:1', 'c', { ...options, enabled: false });
    for (let i = 0; i < 10; i++) await b.run(fail).catch(() => {});
    expect(b.state).toBe('closed');
    expect(await b.run(ok)).toBe('ok');
    b.shutdown();
  });
});
