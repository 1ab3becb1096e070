import type { GapInfo, ResyncInfo, ResyncResult, SequenceRange, StreamMessage } from '../types.js';
import { RecentIds } from './recent-ids.js';

/** A message held back (out of order, or buffered during a resync). */
interface Held {
  data: unknown;
  first: number;
  last: number;
  prev: number | undefined;
  receivedAt: number;
  /** `performance.now()` of the message's frame: a held message keeps its arrival stamp. */
  receivedAtMono: number;
}

/** Settings of one pipeline (a subset of the resolved connection options). */
export interface PipelineSettings {
  reorderWindow: number;
  reorderTimeoutMs: number;
  maxBufferedDeltas: number;
  dedupWindow: number;
  maxResyncAttempts: number;
  resync: ((stream: string) => Promise<ResyncResult>) | undefined;
}

/** Callbacks from a pipeline to its connection. */
export interface PipelineHooks {
  deliver(message: StreamMessage): void;
  gap(info: Omit<GapInfo, 'component' | 'exchange' | 'connection' | 'endpoint'>): void;
  resync(info: Omit<ResyncInfo, 'component' | 'exchange' | 'connection' | 'endpoint'>): void;
}

/**
 * Per-stream ordering: dedup, reorder within a window, gap detection and resync with buffering.
 * Invariant: every message delivered has `last` greater than the previous delivered `last` (no duplicate,
 * no out-of-order), and each resync is the only one running for the stream.
 */
export class StreamPipeline {
  /** The `last` of the last delivered message (or the snapshot's sequence). */
  lastSequence: number | undefined;
  private afterSnapshot = false;
  /** Set after a reconnect: messages missed while disconnected cannot arrive any more, so a jump is a gap at once. */
  private discontinuity = false;
  private readonly held: Held[] = []; // out-of-order messages, sorted by `first`
  private reorderTimer: NodeJS.Timeout | undefined;
  private resyncing = false;
  private resyncBuffer: Held[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private recentIds: RecentIds | undefined;
  private closed = false;
  /** `Date.now()` of the last message (any, including duplicates). */
  lastMessageAt: number;

  messagesIn = 0;
  delivered = 0;
  duplicatesDropped = 0;
  reordered = 0;
  gaps = 0;
  resyncs = 0;
  resyncFailures = 0;
  bufferedDropped = 0;
  idleResubscribes = 0;

  constructor(
    readonly stream: string,
    private readonly settings: PipelineSettings,
    private readonly hooks: PipelineHooks,
    now: number,
  ) {
    this.lastMessageAt = now;
  }

  /** Messages currently held (reorder window + resync buffer). */
  get buffered(): number {
    return this.held.length + this.resyncBuffer.length;
  }

  /** Whether a resync is running. */
  get isResyncing(): boolean {
    return this.resyncing;
  }

  /**
   * Accepts an unsequenced message, deduplicated by `id` when one is given. `receivedAt` is the frame's `Date.now()`,
   * `receivedAtMono` its `performance.now()`.
   */
  acceptUnsequenced(data: unknown, id: string | number | undefined, receivedAt: number, receivedAtMono: number): void {
    this.messagesIn++;
    this.lastMessageAt = receivedAt;
    if (id !== undefined) {
      this.recentIds ??= new RecentIds(this.settings.dedupWindow);
      if (this.recentIds.seen(id)) {
        this.duplicatesDropped++;
        return;
      }
    }
    this.delivered++;
    this.hooks.deliver({ stream: this.stream, data, kind: 'delta', sequence: undefined, receivedAt, receivedAtMono });
  }

  /** Accepts a sequenced message (`receivedAt`: the frame's `Date.now()`, `receivedAtMono`: its `performance.now()`). */
  accept(data: unknown, sequence: number | SequenceRange, receivedAt: number, receivedAtMono: number): void {
    this.messagesIn++;
    this.lastMessageAt = receivedAt;
    let first: number;
    let last: number;
    let prev: number | undefined;
    if (typeof sequence === 'number') {
      first = last = sequence;
    } else {
      first = sequence.first;
      last = sequence.last;
      prev = sequence.prev;
    }
    this.offer(data, first, last, prev, receivedAt, receivedAtMono);
  }

  private offer(
    data: unknown,
    first: number,
    last: number,
    prev: number | undefined,
    receivedAt: number,
    receivedAtMono: number,
  ): void {
    if (this.resyncing) {
      this.bufferForResync({ data, first, last, prev, receivedAt, receivedAtMono });
      return;
    }
    const base = this.lastSequence;
    if (base === undefined) {
      if (this.settings.resync !== undefined) {
        // No base yet: the first message of an order-book stream needs a snapshot (Binance's procedure).
        this.bufferForResync({ data, first, last, prev, receivedAt, receivedAtMono });
        this.startResync();
        return;
      }
      this.emit(data, last, receivedAt, receivedAtMono);
      this.drainHeld();
      return;
    }
    if (last <= base) {
      this.duplicatesDropped++;
      return;
    }
    if (this.isNext(first, prev, base)) {
      this.discontinuity = false;
      this.emit(data, last, receivedAt, receivedAtMono);
      if (this.held.length > 0) this.drainHeld();
      return;
    }
    this.hold({ data, first, last, prev, receivedAt, receivedAtMono });
    if (this.discontinuity) {
      this.discontinuity = false;
      if (this.held.length > 0) this.onGap();
    }
  }

  /**
   * Called when a new socket replaces a dead one: the next jump in sequence is reported as a gap at once instead of
   * waiting `reorderTimeoutMs`. With `reset`, the venue restarted its numbering: the base is forgotten and the stream
   * starts over (with a resync when one is configured).
   */
  markDiscontinuity(reset: boolean): void {
    if (this.resyncing) return;
    if (reset) {
      this.lastSequence = undefined;
      this.afterSnapshot = false;
      this.held.length = 0;
      this.clearReorderTimer();
      return;
    }
    this.discontinuity = true;
  }

  private isNext(first: number, prev: number | undefined, base: number): boolean {
    if (prev !== undefined && !this.afterSnapshot) return prev === base;
    return first <= base + 1;
  }

  private emit(data: unknown, last: number, receivedAt: number, receivedAtMono: number): void {
    this.lastSequence = last;
    this.afterSnapshot = false;
    this.delivered++;
    this.hooks.deliver({ stream: this.stream, data, kind: 'delta', sequence: last, receivedAt, receivedAtMono });
  }

  private hold(entry: Held): void {
    // Binary search for the insertion point by `first`; an entry with the same `last` is a duplicate.
    const held = this.held;
    let lo = 0;
    let hi = held.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((held[mid] as Held).first < entry.first) lo = mid + 1;
      else hi = mid;
    }
    const same = held[lo];
    if (same !== undefined && same.first === entry.first && same.last === entry.last) {
      this.duplicatesDropped++;
      return;
    }
    held.splice(lo, 0, entry);
    this.reordered++;
    if (held.length > this.settings.reorderWindow) {
      this.onGap();
      return;
    }
    if (this.reorderTimer === undefined) {
      this.reorderTimer = setTimeout(() => {
        this.reorderTimer = undefined;
        if (!this.closed && this.held.length > 0) this.onGap();
      }, this.settings.reorderTimeoutMs);
      this.reorderTimer.unref?.();
    }
  }

  /** Delivers held messages that have become contiguous; drops held duplicates. */
  private drainHeld(): void {
    const held = this.held;
    let i = 0;
    while (i < held.length) {
      const entry = held[i] as Held;
      const base = this.lastSequence as number;
      if (entry.last <= base) {
        this.duplicatesDropped++;
        i++;
        continue;
      }
      if (!this.isNext(entry.first, entry.prev, base)) break;
      this.emit(entry.data, entry.last, entry.receivedAt, entry.receivedAtMono);
      i++;
    }
    if (i > 0) held.splice(0, i);
    if (held.length === 0) this.clearReorderTimer();
  }

  private clearReorderTimer(): void {
    if (this.reorderTimer !== undefined) clearTimeout(this.reorderTimer);
    this.reorderTimer = undefined;
  }

  /** The missing sequence did not arrive in time (or the window overflowed). */
  private onGap(): void {
    this.clearReorderTimer();
    const first = this.held[0];
    if (first === undefined) return;
    const expected = (this.lastSequence ?? first.first - 1) + 1;
    this.gaps++;
    const willResync = this.settings.resync !== undefined;
    this.hooks.gap({ stream: this.stream, expected, received: first.first, resync: willResync });
    if (willResync) {
      for (const entry of this.held) this.bufferForResync(entry);
      this.held.length = 0;
      this.startResync();
      return;
    }
    // No resync: accept the gap and continue from the first available message.
    const entry = this.held.shift() as Held;
    this.emit(entry.data, entry.last, entry.receivedAt, entry.receivedAtMono);
    this.drainHeld();
    if (this.held.length > 0) this.onGap();
  }

  private bufferForResync(entry: Held): void {
    if (this.resyncBuffer.length >= this.settings.maxBufferedDeltas) {
      this.resyncBuffer.shift();
      this.bufferedDropped++;
    }
    this.resyncBuffer.push(entry);
  }

  /** Starts a resync unless one is running (one per stream at a time). */
  startResync(): void {
    if (this.resyncing || this.closed || this.settings.resync === undefined) return;
    this.resyncing = true;
    this.clearReorderTimer();
    for (const entry of this.held) this.bufferForResync(entry);
    this.held.length = 0;
    void this.runResync(0);
  }

  private async runResync(attempt: number): Promise<void> {
    const resync = this.settings.resync as (stream: string) => Promise<ResyncResult>;
    this.resyncs++;
    this.hooks.resync({ stream: this.stream, phase: 'start' });
    const started = Date.now();
    let result: ResyncResult;
    try {
      result = await resync(this.stream);
      if (
        result === null ||
        typeof result !== 'object' ||
        typeof result.sequence !== 'number' ||
        !Number.isFinite(result.sequence)
      ) {
        throw new TypeError('resync must resolve with { sequence: number, message? }');
      }
    } catch (error) {
      if (this.closed) return;
      this.resyncFailures++;
      this.hooks.resync({
        stream: this.stream,
        phase: 'error',
        durationMs: Date.now() - started,
        error: error instanceof Error ? error.message : String(error),
      });
      if (attempt + 1 < this.settings.maxResyncAttempts) {
        this.resyncTimer = setTimeout(
          () => {
            this.resyncTimer = undefined;
            if (!this.closed) void this.runResync(attempt + 1);
          },
          Math.min(5_000, 100 * 2 ** attempt),
        );
        this.resyncTimer.unref?.();
        return;
      }
      // Give up for now: accept the gap and continue from the buffered deltas, in order.
      this.finishResync(undefined);
      return;
    }
    if (this.closed) return;
    this.hooks.resync({
      stream: this.stream,
      phase: 'done',
      sequence: result.sequence,
      durationMs: Date.now() - started,
    });
    this.finishResync(result);
  }

  private finishResync(result: ResyncResult | undefined): void {
    this.resyncing = false;
    const buffered = this.resyncBuffer;
    this.resyncBuffer = [];
    buffered.sort((a, b) => a.first - b.first || a.last - b.last);
    if (result !== undefined) {
      if (result.message !== undefined) {
        this.delivered++;
        this.hooks.deliver({
          stream: this.stream,
          data: result.message,
          kind: 'snapshot',
          sequence: result.sequence,
          receivedAt: Date.now(),
          receivedAtMono: performance.now(),
        });
      }
      this.lastSequence = result.sequence;
      this.afterSnapshot = true;
    } else if (buffered.length > 0) {
      const head = buffered[0] as Held;
      this.lastSequence = head.first - 1;
      this.afterSnapshot = true;
    }
    for (const entry of buffered) {
      if (this.closed) return;
      this.offer(entry.data, entry.first, entry.last, entry.prev, entry.receivedAt, entry.receivedAtMono);
    }
  }

  /** Stops timers; pending resync results are ignored. */
  close(): void {
    this.closed = true;
    this.clearReorderTimer();
    if (this.resyncTimer !== undefined) clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    this.held.length = 0;
    this.resyncBuffer = [];
  }

  /** A plain snapshot for stats(). */
  stats(): Record<string, number | boolean | undefined> {
    return {
      messagesIn: this.messagesIn,
      delivered: this.delivered,
      duplicatesDropped: this.duplicatesDropped,
      reordered: this.reordered,
      gaps: this.gaps,
      resyncs: this.resyncs,
      resyncFailures: this.resyncFailures,
      resyncing: this.resyncing,
      buffered: this.buffered,
      bufferedDropped: this.bufferedDropped,
      idleResubscribes: this.idleResubscribes,
      lastSequence: this.lastSequence,
    };
  }
}
