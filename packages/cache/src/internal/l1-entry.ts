/** The keys of one namespace in L1. Namespaces share one store (and its limits) but not key spaces. */
export interface L1Partition {
  readonly map: Map<string, L1Entry>;
}

/** A bucket of entries with the same access frequency (LFU policy). */
export interface FreqBucket {
  freq: number;
  prev: FreqBucket | null;
  next: FreqBucket | null;
  /** Most recently used entry of this frequency. */
  head: L1Entry | null;
  /** Least recently used entry of this frequency. */
  tail: L1Entry | null;
}

/**
 * One L1 entry. The same shape serves both policies (so property access stays monomorphic):
 * `prev`/`next` link it in the LRU list or inside its LFU frequency bucket.
 */
export class L1Entry {
  prev: L1Entry | null = null;
  next: L1Entry | null = null;
  bucket: FreqBucket | null = null;

  constructor(
    readonly key: string,
    readonly part: L1Partition,
    public value: unknown,
    /** Epoch ms until which the value is fresh. */
    public freshUntil: number,
    /** Epoch ms until which the value may be served stale (grace); >= freshUntil. */
    public staleUntil: number,
    /** Estimated bytes (serialized value size + key length). */
    public size: number,
    public tags: readonly string[] | undefined,
    /** Bus epoch at write time; L1 serves the entry only while it equals the trusted epoch. */
    public epoch: number,
  ) {}
}
