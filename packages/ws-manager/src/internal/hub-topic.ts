import { randomBytes } from 'node:crypto';
import type { HubClient } from './hub-client.js';

/** A client held on a topic until the topic passes the offset it resumed from (see `StreamHubOptions.epoch`). */
export interface Waiting {
  /** The client's resume offset: it has every message up to it. */
  after: number;
  /** The `id` of its subscribe request (echoed on a late `resnapshot`). */
  id: unknown;
}

/**
 * One hub topic: its subscribers, offset, epoch and bounded history of serialized frames.
 *
 * Offsets are either counted here (`append(json)`: the topic's offset + 1) or given by the publisher
 * (`append(json, offset)`: a position in a durable log, increasing but possibly sparse). History is a ring of
 * `{ offset, frame }` searched by offset, so a resume costs O(log n + k) for k frames replayed.
 *
 * A resume from offset `o` is possible when every message of the topic with an offset > `o` is known here: `o` must be
 * at least {@link floor}, the highest offset below which the topic's messages may be missing (dropped from the ring,
 * or published before this topic received its first log-numbered message).
 */
export class HubTopic {
  /** Offset of the last published message (0: none yet). */
  offset = 0;
  /**
   * Identifies the numbering of the topic's offsets; clients compare it to resume. Random per topic and hub instance
   * unless the hub was given a fixed `epoch` (the epoch of the durable log its messages are numbered from).
   */
  readonly epoch: string;
  readonly subscribers = new Set<HubClient>();
  /**
   * Clients that resumed from an offset ahead of this topic (the hub has not caught up with the log yet), with that
   * offset: they get nothing until a message with a higher offset arrives. `undefined` when none (the common case).
   */
  waiting: Map<HubClient, Waiting> | undefined;
  /**
   * Every message of the topic with an offset above this one has been appended here (some may since have left the ring,
   * see {@link floor}). 0 for locally numbered topics; for a topic numbered from a log, the offset before its first
   * log-numbered message (see {@link append}).
   */
  knownAfter = 0;
  /** Whether a message with a publisher-given offset was appended. */
  logNumbered = false;
  private readonly prefix: string;
  private readonly offsets: number[];
  private readonly frames: Array<Buffer | undefined>;
  /** Ring index of the oldest stored frame. */
  private head = 0;
  private stored = 0;
  /** Offset of the newest frame that left the ring (0: none). */
  private evictedUpTo = 0;

  constructor(
    readonly name: string,
    private readonly historySize: number,
    epoch?: string,
  ) {
    this.epoch = epoch ?? randomBytes(6).toString('hex');
    this.offsets = new Array<number>(historySize).fill(0);
    this.frames = new Array<Buffer | undefined>(historySize);
    // Everything but the offset and the data is the same for every message of the topic: build it once.
    this.prefix = `{"type":"message","topic":${JSON.stringify(name)},"epoch":${JSON.stringify(this.epoch)},"offset":`;
  }

  /**
   * Builds the frame of the next message (serialized once, shared by every subscriber) and stores it in history.
   * Without `offset` the message gets the topic's offset + 1. With `offset` (an integer the caller checked to be greater
   * than the topic's offset) the message gets that offset. The first such message sets {@link knownAfter} to
   * `offset - 1`: whether the log held messages of this topic before it is unknown here (the hub may have been fed from
   * the middle of the log, or the topic evicted), so only a client at `offset - 1` or later can resume.
   */
  append(dataJson: string, offset?: number): Buffer {
    if (offset === undefined) {
      offset = this.offset + 1;
    } else if (!this.logNumbered) {
      this.logNumbered = true;
      this.knownAfter = offset - 1;
    }
    this.offset = offset;
    const frame = Buffer.from(`${this.prefix}${offset},"data":${dataJson}}`);
    const size = this.historySize;
    if (size === 0) {
      this.evictedUpTo = offset;
      return frame;
    }
    if (this.stored < size) {
      const index = (this.head + this.stored) % size;
      this.offsets[index] = offset;
      this.frames[index] = frame;
      this.stored++;
    } else {
      this.evictedUpTo = this.offsets[this.head] as number;
      this.offsets[this.head] = offset;
      this.frames[this.head] = frame;
      this.head = (this.head + 1) % size;
    }
    return frame;
  }

  /**
   * The highest offset from which a client can still resume: every message of the topic after it is in history.
   * Equal to {@link offset} when history is off or has lost everything but what the client would already have.
   */
  get floor(): number {
    return Math.max(this.knownAfter, this.evictedUpTo);
  }

  /** Oldest offset still in history (offset + 1 when history is empty). */
  get oldestOffset(): number {
    return this.stored === 0 ? this.offset + 1 : (this.offsets[this.head] as number);
  }

  /** Messages kept in history. */
  get historyLength(): number {
    return this.stored;
  }

  /**
   * Every stored frame with an offset greater than `offset`, oldest first, if the client can resume from it: same
   * epoch, `offset` not ahead of the topic, and history reaching back to the first message after `offset` (`offset >=`
   * {@link floor}). `undefined` means the client must resnapshot. A client ahead of the topic is the caller's business
   * (`StreamHub` may hold it until the topic catches up); here it is `undefined`.
   */
  framesAfter(offset: number, epoch: string | undefined): Buffer[] | undefined {
    if (epoch !== this.epoch || !Number.isInteger(offset) || offset < 0 || offset > this.offset) return undefined;
    if (offset < this.floor) return undefined;
    const size = this.historySize;
    // Binary search for the first stored offset > `offset` (offsets increase along the ring from `head`).
    let lo = 0;
    let hi = this.stored;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.offsets[(this.head + mid) % size] as number) <= offset) lo = mid + 1;
      else hi = mid;
    }
    const frames = new Array<Buffer>(this.stored - lo);
    for (let i = lo; i < this.stored; i++) frames[i - lo] = this.frames[(this.head + i) % size] as Buffer;
    return frames;
  }

  /** Number of clients subscribed or waiting for the topic to catch up with their resume offset. */
  get subscriberCount(): number {
    return this.subscribers.size + (this.waiting?.size ?? 0);
  }
}
