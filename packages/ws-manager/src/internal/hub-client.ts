import type { WebSocket } from 'ws';
import type { HubTopic } from './hub-topic.js';
import { TokenBucket } from './token-bucket.js';

/** Server-side state of one hub client. */
export class HubClient {
  readonly topics = new Map<string, HubTopic>();
  readonly bucket: TokenBucket;
  /** Conflated frames waiting for the socket to drain: latest per topic, in recency order. */
  pending: Map<string, Buffer> | undefined;
  /**
   * Bytes of the last frame larger than the bound that was written and may still be queued: the bound is raised by
   * this much until the socket's queue is back under the bound, so the frames right behind a big snapshot are not
   * treated as a slow consumer.
   */
  oversizeAllowance = 0;
  alive = true;
  closing = false;
  framesSent = 0;
  conflated = 0;
  rateLimited = 0;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly principal: Record<string, unknown> | undefined,
    ratePerSecond: number,
    burst: number,
  ) {
    this.bucket = new TokenBucket(ratePerSecond, burst);
  }
}
