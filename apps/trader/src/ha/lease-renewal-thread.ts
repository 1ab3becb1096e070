import { Worker } from 'node:worker_threads';

/** Options of {@link LeaseRenewalThread.start}. */
export interface LeaseRenewalThreadOptions {
  connectionString: string;
  /** `<schema>.engine_lease`, already checked. */
  table: string;
  group: string;
  holder: string;
  ttlMs: number;
  marginMs: number;
  intervalMs: number;
}

/** Milliseconds on the process-wide monotonic clock (`process.hrtime`), the same in every thread of the process. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/**
 * The active engine's lease renewals on a worker thread with its own database connection (`lease-renewal-worker.mjs`),
 * started while the engine is still a standby.
 * The engine's event loop can be busy for seconds on a loaded machine (a replay at takeover, a burst, CPU starved by
 * other processes); renewals run on that loop were delayed with it and the lease lapsed on a healthy leader. The
 * thread renews every `intervalMs` and publishes the validity (`sentAt + ttl - margin`, on the process-wide monotonic
 * clock) in shared memory, which the engine reads before every venue action without waiting for anything.
 */
export class LeaseRenewalThread {
  readonly #worker: Worker;
  readonly #numbers: BigInt64Array;
  readonly #state: Int32Array;
  readonly #finished: Promise<void>;
  /** The last renewal's error, until the next success. */
  lastError: string | undefined;
  #ready = false;
  #renewing = false;

  private constructor(options: LeaseRenewalThreadOptions) {
    const shared = new SharedArrayBuffer(32);
    this.#numbers = new BigInt64Array(shared, 0, 3);
    this.#state = new Int32Array(shared, 24, 1);
    // From the TypeScript sources (tests, tsx) and built alike: the worker is plain JavaScript beside this module.
    this.#worker = new Worker(new URL('./lease-renewal-worker.mjs', import.meta.url), {
      workerData: { ...options, shared },
    });
    this.#worker.on('message', (m: { type: string; error?: string }) => {
      if (m.type === 'renewed') this.lastError = m.error;
      else if (m.type === 'ready') this.#ready = true;
    });
    this.#finished = new Promise((resolve) => {
      this.#worker.once('exit', () => resolve());
      // A worker that cannot start renews nothing: the lease then lapses locally, as with a database away.
      this.#worker.once('error', (e) => {
        this.lastError = `lease renewal thread: ${e.message}`;
        Atomics.compareExchange(this.#state, 0, 1, 2);
      });
    });
    this.#worker.unref();
  }

  /** Starts the thread and its connection, idle until {@link renew}: before the lease is acquired, off its clock. */
  static start(options: LeaseRenewalThreadOptions): LeaseRenewalThread {
    return new LeaseRenewalThread(options);
  }

  /**
   * Renews the lease of `epoch` from now on, `intervalMs` after each renewal's start, the first one `intervalMs`
   * after `acquiredAt` (on {@link monotonicMs}, when the acquiring statement was sent), until lost or stopped.
   */
  renew(epoch: number, acquiredAt: number, validUntil: number): void {
    this.#renewing = true;
    Atomics.store(this.#numbers, 0, BigInt(Math.floor(validUntil * 1000)));
    this.#worker.postMessage({ type: 'renew', epoch, acquiredAtUs: Math.floor(acquiredAt * 1000) });
  }

  /** True once the thread is up and connected: renewals can be handed over to it. */
  get ready(): boolean {
    return this.#ready;
  }

  /** True once {@link renew} was called: the thread renews, the caller only reads. */
  get renewing(): boolean {
    return this.#renewing;
  }

  /** Valid until, on {@link monotonicMs}. */
  get validUntil(): number {
    return Number(Atomics.load(this.#numbers, 0)) / 1000;
  }

  /** True once a renewal was refused, or none succeeded in time: the lease is lost for good. */
  get lost(): boolean {
    return Atomics.load(this.#state, 0) === 2;
  }

  /** Failed renewal statements (database away). */
  get failures(): number {
    return Number(Atomics.load(this.#numbers, 1));
  }

  /** The slowest renewal statement so far (ms). */
  get slowestMs(): number {
    return Number(Atomics.load(this.#numbers, 2)) / 1000;
  }

  /** Stops renewing (before a release, or once lost); resolves when the thread has ended. Idempotent. */
  async stop(): Promise<void> {
    this.#worker.postMessage({ type: 'stop' });
    await this.#finished;
  }
}
