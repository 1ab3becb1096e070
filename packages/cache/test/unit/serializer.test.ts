import { describe, expect, it } from 'vitest';
import { isCacheErrorCode, jsonSerializer } from '../../src/index.js';
import { Codec } from '../../src/internal/codec.js';

const codec = new Codec(jsonSerializer, false);

function roundTrip(c: Codec, value: unknown, tags?: string[]) {
  const encoded = c.encode(value);
  return c.decode(c.envelope(encoded, 1_000, 2_000, tags));
}

describe('serializer and codec', () => {
  it('round-trips JSON values with expiry and tags', () => {
    const rec = roundTrip(codec, { a: 1, b: [true, null, 'x'] }, ['t1', 't2']);
    expect(rec.value).toEqual({ a: 1, b: [true, null, 'x'] });
    expect(rec.freshUntil).toBe(1_000);
    expect(rec.staleUntil).toBe(2_000);
    expect(rec.tags).toEqual(['t1', 't2']);
    expect(roundTrip(codec, null).value).toBeNull();
    expect(roundTrip(codec, 0).value).toBe(0);
    expect(roundTrip(codec, '').value).toBe('');
    expect(roundTrip(codec, 'x').tags).toBeUndefined();
  });

  it('passes Buffers through as raw bytes', () => {
    const buf = Buffer.from([0, 1, 2, 255]);
    const encoded = codec.encode(buf);
    expect(encoded.payload).toBe(buf);
    const rec = roundTrip(codec, buf);
    expect(Buffer.isBuffer(rec.value)).toBe(true);
    expect(rec.value).toEqual(buf);
  });

  it('compresses at or above the threshold only', () => {
    const c = new Codec(jsonSerializer, { threshold: 100, level: 1 });
    const big = 'x'.repeat(10_000);
    const small = 'y';
    expect(c.encode(big).payload.length).toBeLessThan(200);
    expect(c.encode(small).payload.toString()).toBe('"y"');
    expect(roundTrip(c, big).value).toBe(big);
    expect(roundTrip(c, Buffer.alloc(5_000, 7)).value).toEqual(Buffer.alloc(5_000, 7));
  });

  it.each([
    [
      'a cycle',
      (() => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      })(),
    ],
    ['a BigInt', { n: 10n }],
    ['a nested function', { f: () => 1 }],
    ['a top-level function', () => 1],
    ['a symbol', { s: Symbol('x') }],
  ])('rejects %s with E_CACHE_SERIALIZE', (_label, value) => {
    expect(() => codec.encode(value)).toThrow(expect.objectContaining({ code: 'E_CACHE_SERIALIZE' }));
  });

  it('wraps custom serializer failures and uses its output', () => {
    const custom = new Codec(
      {
        serialize: (v) => {
          if (v === 'bad') throw new Error('nope');
          return new Uint8Array([1, 2, 3]);
        },
        deserialize: (b) => [...b],
      },
      false,
    );
    expect(roundTrip(custom, 'ok').value).toEqual([1, 2, 3]);
    try {
      custom.encode('bad');
      expect.unreachable();
    } catch (error) {
      expect(isCacheErrorCode(error, 'E_CACHE_SERIALIZE')).toBe(true);
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
  });

  it('rejects corrupt records', () => {
    expect(() => codec.decode(Buffer.from('short'))).toThrow(expect.objectContaining({ code: 'E_CACHE_SERIALIZE' }));
    const bad = codec.envelope(codec.encode(1), 1, 2, undefined);
    bad[0] = 0x33;
    expect(() => codec.decode(bad)).toThrow(/unknown format/);
  });
});
