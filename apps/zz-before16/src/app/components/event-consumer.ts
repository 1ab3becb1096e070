import { performance } from 'node:perf_hooks';
import type { EventLog, TailHandle } from '../../bus/types.js';
import { LatencyRecorder } from '../../internal/latency-recorder.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import { ReadModel } from '../../read-model/read-model.js';
import type { TraderRecord } from '../../read-model/trader-record.js';

/** Records replayed into the stream history when a gateway starts from a snapshot. */
const HISTORY_WARMUP = 2_000;

/**
 * A gateway's side of the event stream: starts its {@link ReadModel} from the snapshot beside the stream, replays
 * the records just before the snapshot into the live-stream history (so clients of a restarted gateway resume),
 * then tails the stream from the snapshot's offset. The tail reconnects by itself and resumes after the last
 * record it delivered.
 */
export class EventConsumer implements Component {
  readonly name = 'event-stream';
  readonly critical = true;
  readonly model = new ReadModel();
  /** Engine append to this model's apply, per record (ms; both stamps on the machine's clock, µs fraction). */
  readonly lag = new LatencyRecorder(16_384);
  #tail: TailHandle | undefined;
  #waiters: { offset: number; resolve: (ok: boolean) => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    private readonly log: EventLog<TraderRecord>,
    private readonly staleAfterMs = 5_000,
  ) {}

  #epoch = '';
  #readyAt = 0;

  async start(): Promise<void> {
    await this.log.start();
    this.#epoch = this.log.epoch;
    const snap = await this.log.loadSnapshot();
    if (snap !== undefined) {
      this.model.restore(JSON.parse(snap.json));
      for (const r of await this.log.read(Math.max(0, snap.offset - HISTORY_WARMUP), HISTORY_WARMUP))
        if (r.offset <= snap.offset) this.model.replayHistory(r.offset, r.data);
    }
    this.#tail = this.log.tail(this.model.offset, (records) => {
      for (const r of records) this.model.apply(r.offset, r.data);
      const now = performance.timeOrigin + performance.now();
      // Records appended once this process was ready: the backlog read at start (records since the snapshot), and
      // what arrives while the rest of the process starts, measure the start, not the stream.
      if (this.#readyAt > 0)
        for (const r of records) if (r.ts >= this.#readyAt) this.lag.record(Math.max(0, now - r.ts));
      this.wake();
    });
  }

  ready(): void {
    this.#readyAt = performance.timeOrigin + performance.now();
  }

  /** Resolves `true` once the model has applied `offset` (read-your-writes after a command), `false` on timeout. */
  waitFor(offset: number, timeoutMs: number): Promise<boolean> {
    if (this.model.offset >= offset) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        offset,
        resolve,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  private wake(): void {
    if (this.#waiters.length === 0) return;
    const now = this.model.offset;
    this.#waiters = this.#waiters.filter((w) => {
      if (w.offset > now) return true;
      clearTimeout(w.timer);
      w.resolve(true);
      return false;
    });
  }

  async healthCheck(signal?: AbortSignal): Promise<ComponentHealth> {
    const h = await this.log.healthCheck(signal);
    if (this.log.epoch !== this.#epoch)
      // The stream was recreated (Redis lost it): its offsets start again, and this model cannot follow them.
      return {
        status: 'fail',
        observedValue: this.model.offset,
        observedUnit: 'offset',
        output: `the event stream was reset (epoch ${this.#epoch} -> ${this.log.epoch}): this gateway's view is stale; restart it after the engine has republished`,
      };
    const status = this.model.engine();
    const age = this.model.lastAppliedAt === 0 ? Number.POSITIVE_INFINITY : Date.now() - this.model.lastAppliedAt;
    if (h.status !== 'pass') return { ...h, observedValue: this.model.offset, observedUnit: 'offset' };
    if (age > this.staleAfterMs)
      return {
        status: 'warn',
        observedValue: this.model.offset,
        observedUnit: 'offset',
        output:
          status === undefined
            ? 'no record from the engine yet'
            : `no record from the engine for ${Math.round(age / 1000)} s (engine down or stream unreachable)`,
      };
    return { status: 'pass', observedValue: this.model.offset, observedUnit: 'offset' };
  }

  stats(): Record<string, unknown> {
    const lag = this.lag.percentiles([50, 99, 99.9]);
    return { ...this.log.stats(), model: this.model.stats(), lagMs: { p50: lag.p50, p99: lag.p99, p999: lag.p999 } };
  }

  async stop(): Promise<void> {
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.#waiters = [];
    await this.#tail?.stop();
    await this.log.close();
  }
}
