import diagnosticsChannel from 'node:diagnostics_channel';
import { HookEmitter } from '@cryptoscalp/contracts';
import { waitFor } from '@cryptoscalp/testkit';
import { describe, expect, it } from 'vitest';
import { HostBreaker } from '../../src/circuit-breaker.js';
import { BREAKER_CHANNEL, type BreakerEvent, ConnectionError, DEFAULTS } from '../../src/index.js';

const options = { ...DEFAULTS.breaker, volumeThreshold: 4, resetTimeoutMs: 50 };
const fail = () => Promise.reject(new ConnectionError('refused', { sent: false }));

describe('HostBreaker hook (what PoolManager.onBreakerStateChange exposes)', () => {
  it('delivers each state change with the channel payload, past a throwing listener', async () => {
    const hook = new HookEmitter<BreakerEvent>();
    const fromHook: BreakerEvent[] = [];
    const fromChannel: BreakerEvent[] = [];
    const onChannel = (m: unknown) => {
      if ((m as BreakerEvent).component === 'unit-hook') fromChannel.push(m as BreakerEvent);
    };
    hook.hook(() => {
      throw new Error('listener bug');
    });
    hook.hook((event) => fromHook.push(event));
    diagnosticsChannel.subscribe(BREAKER_CHANNEL, onChannel);
    const b = new HostBreaker('h:1', 'unit-hook', options, hook);
    try {
      for (let i = 0; i < 4; i++) await expect(b.run(fail)).rejects.toThrow('refused');
      await waitFor(() => b.state === 'open');
      await waitFor(() => b.state === 'half-open', { timeoutMs: 2_000 });
      expect(await b.run(() => Promise.resolve('ok'))).toBe('ok');
    } finally {
      diagnosticsChannel.unsubscribe(BREAKER_CHANNEL, onChannel);
      b.shutdown();
    }
    expect(fromHook.map((e) => e.state)).toEqual(['open', 'half-open', 'closed']);
    expect(fromHook).toEqual(fromChannel);
    expect(hook.listenerErrors).toBe(3);
  });

  it('builds no event when neither the channel nor the hook listens', async () => {
    const hook = new HookEmitter<BreakerEvent>();
    const b = new HostBreaker('h:1', 'unit-quiet', options, hook);
    try {
      for (let i = 0; i < 4; i++) await expect(b.run(fail)).rejects.toThrow('refused');
      await waitFor(() => b.state === 'open');
      expect(hook.listenerErrors).toBe(0);
    } finally {
      b.shutdown();
    }
  });
});
