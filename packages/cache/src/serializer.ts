import { CacheError } from './errors.js';
import type { Serializer } from './types.js';

function reject(value: unknown): never {
  const kind = typeof value === 'bigint' ? 'a BigInt' : typeof value === 'function' ? 'a function' : 'a symbol';
  throw new CacheError(
    'E_CACHE_SERIALIZE',
    `Cannot serialize ${kind} with the JSON serializer; pass a custom serializer`,
  );
}

// A replacer sees every value after toJSON(), so it catches what JSON.stringify would drop silently
// (functions, symbols) as well as what it throws on (BigInt).
function strictReplacer(_key: string, value: unknown): unknown {
  const t = typeof value;
  if (t === 'function' || t === 'symbol' || t === 'bigint') reject(value);
  return value;
}

/**
 * The default serializer: JSON, strict. Cycles, BigInt, functions and symbols raise
 * `E_CACHE_SERIALIZE` instead of being dropped. Object properties whose value is `undefined`
 * are omitted (as JSON does); Buffers never reach it (they are stored as raw bytes).
 */
export const jsonSerializer: Serializer = {
  serialize(value: unknown): string {
    try {
      const text = JSON.stringify(value, strictReplacer);
      if (text === undefined) reject(value);
      return text;
    } catch (error) {
      if (error instanceof CacheError) throw error;
      throw new CacheError('E_CACHE_SERIALIZE', `Cannot serialize value: ${(error as Error).message}`, {
        cause: error,
      });
    }
  },
  deserialize(data: Buffer): unknown {
    return JSON.parse(data.toString('utf8'));
  },
};
