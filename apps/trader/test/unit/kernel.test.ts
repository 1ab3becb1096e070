import { describe, expect, it } from 'vitest';
import type { Component } from '../../src/kernel/component.js';
import { Kernel } from '../../src/kernel/kernel.js';

function recorder() {
  const calls: string[] = [];
  const make = (name: string, extra: Partial<Component> = {}): Component => ({
    name,
    start: () => {
      calls.push(`start ${name}`);
    },
    ready: () => {
      calls.push(`ready ${name}`);
    },
    quiesce: () => {
      calls.push(`quiesce ${name}`);
    },
    stop: () => {
      calls.push(`stop ${name}`);
    },
    ...extra,
  });
  return { calls, make };
}

describe('Kernel', () => {
  it('starts in declared order, tells each it is ready, quiesces every component in reverse, then stops them in reverse', async () => {
    const { calls, make } = recorder();
    const k = new Kernel({ log: () => {} });
    for (const n of ['a', 'b', 'c']) k.add(make(n));
    await k.start();
    await k.stop('test');
    expect(calls).toEqual([
      'start a',
      'start b',
      'start c',
      'ready a',
      'ready b',
      'ready c',
      'quiesce c',
      'quiesce b',
      'quiesce a',
      'stop c',
      'stop b',
      'stop a',
    ]);
  });

  it('stops what started when a start fails, rethrows, and never starts the rest', async () => {
    const { calls, make } = recorder();
    const k = new Kernel({ log: () => {} });
    k.add(make('a'));
    k.add(make('b', { start: () => Promise.reject(new Error('boom')) }));
    k.add(make('c'));
    await expect(k.start()).rejects.toThrow('boom');
    expect(calls).toEqual(['start a', 'quiesce b', 'quiesce a', 'stop b', 'stop a']);
    expect(k.steps().find((s) => s.component === 'b')?.error).toBe('boom');
  });

  it('bounds each step by its timeout and goes on with the others; stop is idempotent', async () => {
    const { calls, make } = recorder();
    const logged: string[] = [];
    const levels: (string | undefined)[] = [];
    const k = new Kernel({
      log: (l, level) => {
        logged.push(l);
        levels.push(level);
      },
    });
    k.add(make('a'));
    k.add(make('stuck', { stopTimeoutMs: 50, stop: () => new Promise<void>(() => {}) }));
    await k.start();
    const t0 = Date.now();
    const first = k.stop('x');
    expect(k.stop('y')).toBe(first);
    await first;
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(calls).toContain('stop a');
    expect(logged.join('\n')).toMatch(/stuck stop failed: stuck stop timed out after 50 ms/);
    // A failed shutdown step is an error line (it counts toward the error-log-rate alert).
    expect(levels[logged.findIndex((l) => /stuck stop failed/.test(l))]).toBe('error');
  });

  it('times out a start that hangs', async () => {
    const { make } = recorder();
    const k = new Kernel({ log: () => {} });
    k.add(make('slow', { startTimeoutMs: 30, start: () => new Promise<void>(() => {}) }));
    await expect(k.start()).rejects.toThrow(/slow start timed out after 30 ms/);
  });

  it('refuses two components with one name', () => {
    const { make } = recorder();
    const k = new Kernel();
    k.add(make('a'));
    expect(() => k.add(make('a'))).toThrow(/declared twice/);
  });
});
