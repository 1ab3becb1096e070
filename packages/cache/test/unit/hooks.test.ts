import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { type CacheErrorEvent, CacheManager, ERROR_CHANNEL, type Hook } from '../../src/index.js';

const managers: CacheManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});
function make(): CacheManager {
  const m = new CacheManager({ name: 'hooks-unit' });
  managers.push(m);
  return m;
}
const failingLoader = () => Promise.reject(new Error('loader down'));

describe('CacheManager hooks (L1 only)', () => {
  it('onError delivers the same typed payload as the error channel, to every namespace view', async () => {
    const cache = make();
    const child = cache.namespace('books');
    expectTypeOf(cache.onError).toEqualTypeOf<Hook<CacheErrorEvent>>();
    const fromHook: CacheErrorEvent[] = [];
    const fromChannel: unknown[] = [];
    const onChannel = (message: unknown) => fromChannel.push(message);
    diagnostics.subscribe(ERROR_CHANNEL, onChannel);
    const sub = child.onError((event) => fromHook.push(event));
    try {
      await expect(cache.getOrSet('k', failingLoader)).rejects.toMatchObject({ code: 'E_CACHE_LOADER' });
    } finally {
      diagnostics.unsubscribe(ERROR_CHANNEL, onChannel);
      sub.dispose();
    }
    expect(fromHook).toHaveLength(1);
    expect(fromHook[0]).toMatchObject({ component: 'hooks-unit', kind: 'loader', operation: 'getOrSet' });
    expect(fromHook).toEqual(fromChannel);
  });

  it('dispose is idempotent and stops delivery', async () => {
    const cache = make();
    let calls = 0;
    const sub = cache.onError(() => calls++);
    await expect(cache.getOrSet('a', failingLoader)).rejects.toThrow();
    sub.dispose();
    sub.dispose();
    await expect(cache.getOrSet('b', failingLoader)).rejects.toThrow();
    expect(calls).toBe(1);
  });

  it('a throwing listener is counted as a listener error and does not stop the other listeners or the cache', async () => {
    const cache = make();
    const kinds: string[] = [];
    cache.onError(() => {
      throw new Error('listener bug');
    });
    cache.onError((event) => kinds.push(event.kind));
    const channel: Array<{ kind: string; operation: string }> = [];
    const onChannel = (message: unknown) => channel.push(message as { kind: string; operation: string });
    diagnostics.subscribe(ERROR_CHANNEL, onChannel);
    try {
      await expect(cache.getOrSet('k', failingLoader)).rejects.toMatchObject({ code: 'E_CACHE_LOADER' });
    } finally {
      diagnostics.unsubscribe(ERROR_CHANNEL, onChannel);
    }
    // The error listener's own failure is not sent back to the error hook (no loop).
    expect(kinds).toEqual(['loader']);
    expect(cache.stats().errors.listener).toBe(1);
    expect(channel.map((e) => `${e.kind}:${e.operation}`)).toEqual(['loader:getOrSet', 'listener:onError']);
    await cache.set('still', 1);
    expect(await cache.get('still')).toBe(1);
  });

  it('rejects a listener that is not a function, naming the field', () => {
    const cache = make();
    expect(() => cache.onBreakerStateChange(42 as never)).toThrow(expect.objectContaining({ field: 'listener' }));
  });
});
