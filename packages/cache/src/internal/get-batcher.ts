interface Pending {
  resolve: (value: Buffer | null) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces the single-key GETs issued in one tick into one multi-key read (one MGET on a
 * standalone server; in a cluster, auto-pipelined GETs) that goes through the breaker once.
 * Callers asking for the same key in one tick share the answer.
 */
export class GetBatcher {
  private keys: string[] = [];
  private waiters: Pending[][] = [];
  private index = new Map<string, number>();
  private scheduled = false;

  constructor(
    private readonly read: (keys: string[]) => Promise<Array<Buffer | null>>,
    private readonly maxBatch = 512,
  ) {}

  /** Reads one key as part of the current batch. */
  get(key: string): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      const at = this.index.get(key);
      if (at !== undefined) {
        (this.waiters[at] as Pending[]).push({ resolve, reject });
        return;
      }
      this.index.set(key, this.keys.length);
      this.keys.push(key);
      this.waiters.push([{ resolve, reject }]);
      if (this.keys.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const keys = this.keys;
    if (keys.length === 0) return;
    const waiters = this.waiters;
    this.keys = [];
    this.waiters = [];
    this.index = new Map();
    this.read(keys).then(
      (values) => {
        for (let i = 0; i < waiters.length; i++) {
          const value = values[i] ?? null;
          for (const w of waiters[i] as Pending[]) w.resolve(value);
        }
      },
      (error: unknown) => {
        for (const list of waiters) for (const w of list) w.reject(error);
      },
    );
  };
}
