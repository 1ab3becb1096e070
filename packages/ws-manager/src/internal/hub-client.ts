import type { WebSocket } from 'ws';
import type { HubTopic } from './hub-topic.js';
import { TokenBucket } from './token-bucket.js';

/** Server-side state of one hub client. */
export class HubClient {
  readonly topics = new Map<string, HubTopic>();
  readonly bucket: TokenBucket;
  /** Conflated frames waiting for the socket to drain: latest per topic, in recency order. */
  pending: Map<string, Buffer> | undefined;
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
