/**
 * A live index of the series keys of one prom-client `hashMap`, so a scrape can walk a metric's series in
 * slices without enumerating the whole object at once.
 *
 * Why: prom-client keeps a metric's series in a plain object keyed by a label hash. Any whole-object
 * enumeration (`Object.keys`, `Object.values`, `for...in`) is one synchronous step in V8 that takes
 * 20-50 ms for 100k keys on a loaded machine, far over a 10 ms slice budget, and cannot be resumed.
 *
 * How: the keys present when the index is made are read once; from then on every *new* key is recorded
 * as it is created. A property write to a key the object does not own yet walks the prototype chain, so
 * the `hashMap` gets a prototype Proxy whose `set` trap defines the property on the map itself and adds
 * the key to a `Set`. Writes to existing series (the hot path: `inc()`, `set()`, `observe()`) find the
 * own property and never reach the Proxy. Deleted keys stay in the `Set` until a scrape sees them gone and
 * {@link pruneSeriesIndex} removes them, so a key deleted and re-added is never listed twice.
 */
export interface SeriesIndex {
  /** The `hashMap` object this index tracks. */
  readonly map: Record<string, unknown>;
  /** Its keys in creation order (may hold keys deleted since; they are skipped and pruned). */
  readonly keys: Set<string>;
  /**
   * False when the map could not take the recording prototype (a frozen or sealed map): `keys` is then a
   * snapshot taken for this scrape only, and the next call takes a new one.
   */
  readonly live: boolean;
}

const indexes = new WeakMap<object, SeriesIndex>();

/**
 * The index of `map`, made on first use. Making it enumerates `map` once (the only whole-map enumeration
 * in its life), so index maps while they are small (see `indexRegistry`).
 */
export function seriesIndex(map: Record<string, unknown>): SeriesIndex {
  const known = indexes.get(map);
  if (known !== undefined) return known;
  const keys = new Set(Object.keys(map));
  if (!Object.isExtensible(map)) return { map, keys, live: false };
  const index: SeriesIndex = { map, keys, live: true };
  // The Proxy target stands in for the old prototype: reads of missing keys (and of inherited methods
  // such as `hasOwnProperty`) resolve exactly as before.
  const original = Object.getPrototypeOf(map) as object | null;
  const target = Object.create(original) as object;
  const recorder = new Proxy(target, {
    set(t, key, value, receiver) {
      // Only writes to the map itself are recorded; anything else behaves as an ordinary set.
      if (receiver !== map) return Reflect.set(t, key, value, receiver);
      const ok = Reflect.defineProperty(map, key, { value, writable: true, enumerable: true, configurable: true });
      if (ok && typeof key === 'string') keys.add(key);
      return ok;
    },
  });
  Object.setPrototypeOf(map, recorder);
  indexes.set(map, index);
  originals.set(map, original);
  return index;
}

const originals = new WeakMap<object, object | null>();

/**
 * Gives `map` its original prototype back and forgets its index (when the monitoring that indexed it
 * closes: nothing would prune the key set any more). A scrape still running keeps the index it holds.
 */
export function releaseSeriesIndex(map: Record<string, unknown>): void {
  if (!originals.has(map)) return;
  Object.setPrototypeOf(map, originals.get(map) ?? null);
  originals.delete(map);
  indexes.delete(map);
}

/**
 * Drops from the index the keys in `seen` that `index.map` no longer owns. Synchronous, so a key re-added
 * after a scrape saw it missing is rechecked here and kept.
 */
export function pruneSeriesIndex(index: SeriesIndex, seen: readonly string[]): void {
  for (const key of seen) if (!Object.hasOwn(index.map, key)) index.keys.delete(key);
}
