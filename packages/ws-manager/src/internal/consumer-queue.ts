import { WsManagerError, WsManagerErrorCode } from '../errors.js';
import type { QueuePolicy, StreamMessage } from '../types.js';

type Result = IteratorResult<StreamMessage, undefined>;

/**
 * A bounded queue for one async-iteration consumer. When full: `drop-oldest` drops the oldest message,
 * `conflate-latest` replaces the queued message of the same stream (or drops the oldest if there is none),
 * `error` ends the iteration with `E_WS_QUEUE_OVERFLOW`. Memory is bounded by `maxSize` messages.
 */
export class ConsumerQueue implements AsyncIterableIterator<StreamMessage> {
  private readonly ring: Array<StreamMessage | undefined>;
  private head = 0; // absolute index of the oldest queued message
  private tail = 0; // absolute index of the next free slot
  private readonly latest = new Map<string, number>();
  private waiter: { resolve: (r: Result) => void; reject: (e: unknown) => void } | undefined;
  private failure: unknown;
  private ended = false;
  /** Messages dropped by `drop-oldest` (or by `conflate-latest` without a same-stream message). */
  dropped = 0;
  /** Messages replaced by a newer one of the same stream. */
  conflated = 0;
  /** Messages delivered to the consumer. */
  delivered = 0;
  /** Largest queue length seen. */
  highWater = 0;

  constructor(
    private readonly maxSize: number,
    private readonly policy: QueuePolicy,
    private readonly onEnd: (queue: ConsumerQueue) => void,
  ) {
    this.ring = new Array(maxSize);
  }

  /** Messages currently queued. */
  get length(): number {
    return this.tail - this.head;
  }

  /** Offers one message (called by the connection for every delivered message). */
  push(message: StreamMessage): void {
    if (this.ended) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      this.delivered++;
      waiter.resolve({ value: message, done: false });
      return;
    }
    if (this.tail - this.head >= this.maxSize) {
      if (this.policy === 'error') {
        this.fail(
          new WsManagerError(WsManagerErrorCode.QueueOverflow, `consumer queue overflowed (${this.maxSize} messages)`, {
            stream: message.stream,
          }),
        );
        return;
      }
      if (this.policy === 'conflate-latest') {
        const at = this.latest.get(message.stream);
        if (at !== undefined && at >= this.head) {
          this.ring[at % this.maxSize] = message;
          this.conflated++;
          return;
        }
      }
      this.ring[this.head % this.maxSize] = undefined;
      this.head++;
      this.dropped++;
    }
    this.ring[this.tail % this.maxSize] = message;
    if (this.policy === 'conflate-latest') this.latest.set(message.stream, this.tail);
    this.tail++;
    const length = this.tail - this.head;
    if (length > this.highWater) this.highWater = length;
  }

  /** Ends the iteration with an error (after nothing more is queued: the error is what the consumer sees next). */
  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = error;
    this.clear();
    this.ended = true;
    this.onEnd(this);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  /** Ends the iteration normally after the queued messages are consumed. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
  }

  private clear(): void {
    this.ring.fill(undefined);
    this.head = this.tail = 0;
    this.latest.clear();
  }

  next(): Promise<Result> {
    if (this.tail > this.head) {
      const index = this.head % this.maxSize;
      const value = this.ring[index] as StreamMessage;
      this.ring[index] = undefined;
      this.head++;
      this.delivered++;
      return Promise.resolve({ value, done: false });
    }
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      return Promise.reject(failure);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter !== undefined) {
      return Promise.reject(new Error('ConsumerQueue.next() called while a previous next() is pending'));
    }
    return new Promise<Result>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<Result> {
    this.clear();
    this.failure = undefined;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StreamMessage> {
    return this;
  }
}
