import { randomBytes } from 'node:crypto';
import type { HubClient } from './hub-client.js';

/** One hub topic: its subscribers, offset counter, epoch and bounded history of serialized frames. */
export class HubTopic {
  /** Offset of the last published message (0: none yet). */
  offset = 0;
  /** Changes whenever the topic's offsets restart (a new hub instance or topic); clients compare it to resume. */
  readonly epoch: string;
  readonly subscribers = new Set<HubClient>();
  private readonly prefix: string;
  private readonly ring: Array<Buffer | undefined>;
  private stored = 0;

  constructor(
    readonly name: string,
    private readonly historySize: number,
  ) {
    this.epoch = randomBytes(6).toString('hex');
    this.ring = new Array(historySize);
    // Everything but the offset and the data is the same for every message of the topic: build it once.
    this.prefix = `{"type":"message","topic":${JSON.stringify(name)},"epoch":"${this.epoch}","offset":`;
  }

  /** Builds the frame of the next message (serialized once, shared by every subscriber) and stores it in history. */
  append(dataJson: string): Buffer {
    const offset = ++this.offset;
    const frame = Buffer.from(`${this.prefix}${offset},"data":${dataJson}}`);
    if (this.historySize > 0) {
      this.ring[offset % this.historySize] = frame;
      if (this.stored < this.historySize) this.stored++;
    }
    return frame;
  }

  /** Oldest offset still in history (offset + 1 when history is empty). */
  get oldestOffset(): number {
    return this.offset - this.stored + 1;
  }

  /** Messages kept in history. */
  get historyLength(): number {
    return this.stored;
  }

  /**
   * The frames after `offset` if the client can resume from it (same epoch, offset not older than history,
   * not in the future); `undefined` means the client must resnapshot.
   */
  framesAfter(offset: number, epoch: string | undefined): Buffer[] | undefined {
    if (epoch !== this.epoch || !Number.isInteger(offset) || offset < 0 || offset > this.offset) return undefined;
    if (offset + 1 < this.oldestOffset) return undefined;
    const frames: Buffer[] = [];
    for (let o = offset + 1; o <= this.offset; o++) frames.push(this.ring[o % this.historySize] as Buffer);
    return frames;
  }
}
