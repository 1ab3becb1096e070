import { describe, expect, expectTypeOf, it } from 'vitest';
import { type Hook, type HookDisposable, HookEmitter, type HookPayload } from '../../src/index.js';

interface Ping {
  n: number;
}

describe('HookEmitter', () => {
  it('delivers the typed payload to every listener in subscription order', () => {
    const emitter = new HookEmitter<Ping>();
    const seen: string[] = [];
    emitter.hook((e) => seen.push(`a${e.n}`));
    emitter.hook((e) => seen.push(`b${e.n}`));
    emitter.emit({ n: 1 });
    expect(seen).toEqual(['a1', 'b1']);
    expectTypeOf(emitter.hook).toEqualTypeOf<Hook<Ping>>();
    expectTypeOf<HookPayload<Hook<Ping>>>().toEqualTypeOf<Ping>();
  });

  it('dispose removes the listener and is idempotent', () => {
    const emitter = new HookEmitter<Ping>();
    const seen: number[] = [];
    const other: number[] = [];
    const sub: HookDisposable = emitter.hook((e) => seen.push(e.n));
    const otherSub = emitter.hook((e) => other.push(e.n));
    emitter.emit({ n: 1 });
    sub.dispose();
    sub.dispose();
    emitter.emit({ n: 2 });
    expect(seen).toEqual([1]);
    expect(other).toEqual([1, 2]);
    expect(emitter.size).toBe(1);
    expect(emitter.hasListeners).toBe(true);
    otherSub.dispose();
    expect(emitter.hasListeners).toBe(false);
    emitter.emit({ n: 3 });
    expect(other).toEqual([1, 2]);
  });

  it('one function added twice gives two subscriptions, each removed by its own disposable', () => {
    const emitter = new HookEmitter<Ping>();
    let calls = 0;
    const listener = () => calls++;
    const first = emitter.hook(listener);
    emitter.hook(listener);
    emitter.emit({ n: 1 });
    expect(calls).toBe(2);
    first.dispose();
    first.dispose();
    emitter.emit({ n: 2 });
    expect(calls).toBe(3);
  });

  it('a throwing listener is counted and reported, and the others still run', () => {
    const reported: Array<[unknown, Ping]> = [];
    const emitter = new HookEmitter<Ping>((error, event) => reported.push([error, event]));
    const seen: number[] = [];
    const boom = new Error('boom');
    emitter.hook(() => {
      throw boom;
    });
    emitter.hook((e) => seen.push(e.n));
    expect(() => emitter.emit({ n: 7 })).not.toThrow();
    expect(seen).toEqual([7]);
    expect(emitter.listenerErrors).toBe(1);
    expect(reported).toEqual([[boom, { n: 7 }]]);
  });

  it('a throwing reporter does not break the emitter', () => {
    const emitter = new HookEmitter<Ping>(() => {
      throw new Error('reporter');
    });
    const seen: number[] = [];
    emitter.hook(() => {
      throw new Error('listener');
    });
    emitter.hook((e) => seen.push(e.n));
    expect(() => emitter.emit({ n: 1 })).not.toThrow();
    expect(seen).toEqual([1]);
    expect(emitter.listenerErrors).toBe(1);
  });

  it('a listener disposing itself or adding another during an emit does not change that emit', () => {
    const emitter = new HookEmitter<Ping>();
    const seen: string[] = [];
    const self: HookDisposable = emitter.hook((e) => {
      seen.push(`self${e.n}`);
      self.dispose();
      emitter.hook((f) => seen.push(`late${f.n}`));
    });
    emitter.hook((e) => seen.push(`tail${e.n}`));
    emitter.emit({ n: 1 });
    emitter.emit({ n: 2 });
    expect(seen).toEqual(['self1', 'tail1', 'tail2', 'late2']);
  });

  it('hasListeners follows subscriptions, and clear() leaves old disposables harmless', () => {
    const emitter = new HookEmitter<Ping>();
    expect(emitter.hasListeners).toBe(false);
    const sub = emitter.hook(() => undefined);
    expect(emitter.hasListeners).toBe(true);
    emitter.clear();
    expect(emitter.hasListeners).toBe(false);
    sub.dispose();
    expect(emitter.size).toBe(0);
  });

  it('rejects a listener that is not a function, naming the field', () => {
    const emitter = new HookEmitter<Ping>();
    expect(() => emitter.hook('nope' as never)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', field: 'listener' }),
    );
    expect(() => emitter.hook('nope' as never)).toThrow(/listener/);
  });
});
