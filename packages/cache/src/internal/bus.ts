import type { RedisClient } from './connection.js';

/** An invalidation message. `n` is the namespace path. */
export interface BusMessage {
  /** Namespace path. */
  n: string;
  /** Keys to drop from L1. */
  k?: string[];
  /** Tags whose entries to drop from L1. */
  g?: string[];
  /** Clear the whole namespace. */
  c?: 1;
  /** A lease on this key was released (wake waiters). */
  l?: string;
}

/** Callbacks of {@link InvalidationBus}. */
export interface BusHandlers {
  message(message: BusMessage): void;
  /** The bus became trustworthy (SUBSCRIBE acknowledged, or own heartbeat came back). */
  up(): void;
  /** The bus may have lost messages (connection closed or heartbeat late). */
  down(): void;
  error(error: unknown): void;
}

/**
 * Redis pub/sub on its own connection. The bus goes `up` when Redis acknowledges SUBSCRIBE:
 * from that reply on, Redis pushes every later PUBLISH on the channel to this connection, so
 * no invalidation can be missed while the connection lives. It stays up while this instance's
 * own heartbeat, published every `heartbeatMs` through the main connection, comes back within
 * `3 * heartbeatMs` (a silently dead subscriber); a closed subscriber connection marks it
 * `down` at once. The manager bumps the L1 epoch on every down/up transition, so entries
 * written before a possible message loss are revalidated against Redis instead of being
 * served from L1. (Waiting for the first heartbeat instead of the SUBSCRIBE reply added up to
 * a heartbeat interval of L1 bypass after start, and proved nothing more.)
 *
 * Wire format: `h|<id>` (heartbeat) or `i|<id>|<json BusMessage>`.
 */
export class InvalidationBus {
  state: 'up' | 'down' = 'down';
  published = 0;
  received = 0;
  drops = 0;
  private lastHeartbeat = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly heartbeat: string;
  private readonly prefix: string;
  private closed = false;
  private started: Promise<void> | undefined;
  private endStart: (() => void) | undefined;

  constructor(
    private readonly main: RedisClient,
    private readonly sub: RedisClient,
    private readonly channel: string,
    id: string,
    private readonly heartbeatMs: number,
    private readonly handlers: BusHandlers,
  ) {
    this.heartbeat = `h|${id}`;
    this.prefix = `i|${id}|`;
    this.started = new Promise<void>((resolve) => {
      this.endStart = resolve;
    });
    // Bounded like the heartbeat: a Redis that never answers must not hold writes for long.
    setTimeout(this.finishStart, 3 * heartbeatMs).unref();
    sub.on('error', (error: unknown) => handlers.error(error));
    sub.on('close', this.onClose);
    // (Re)subscribe on every ready: idempotent, and it also covers a first SUBSCRIBE that failed.
    sub.on('ready', this.subscribe);
    sub.on('messageBuffer', this.onMessage);
    if (sub.status === 'ready') this.subscribe();
    // A duplicate of a lazyConnect client would otherwise never connect.
    else if (sub.status === 'wait') sub.connect().catch((error: unknown) => handlers.error(error));
    this.timer = setInterval(this.tick, heartbeatMs);
    this.timer.unref();
  }

  /**
   * Until the first SUBSCRIBE is acknowledged (or fails, or `3 * heartbeatMs` pass): a promise
   * that settles then; `undefined` after. A write awaits it so that its L1 entry is written under
   * a live subscription: any later invalidation from another instance then reaches this one.
   */
  get starting(): Promise<void> | undefined {
    return this.started;
  }

  private readonly finishStart = () => {
    this.started = undefined;
    this.endStart?.();
    this.endStart = undefined;
  };

  /** Publishes an invalidation to the other instances. */
  encode(message: BusMessage): string {
    return this.prefix + JSON.stringify(message);
  }

  private readonly subscribe = () => {
    if (this.closed) return;
    this.sub.subscribe(this.channel).then(this.subscribed, (error: unknown) => {
      this.finishStart();
      this.handlers.error(error);
    });
  };

  private readonly subscribed = () => {
    if (this.closed || this.sub.status !== 'ready') return;
    this.lastHeartbeat = Date.now();
    this.markUp();
    this.finishStart();
    this.beat();
  };

  private readonly beat = () => {
    // Only on a ready connection: a heartbeat must never wait in an offline queue.
    if (this.closed || this.main.status !== 'ready') return;
    this.main.publish(this.channel, this.heartbeat).catch(() => undefined);
  };

  private readonly tick = () => {
    if (this.state === 'up' && Date.now() - this.lastHeartbeat > 3 * this.heartbeatMs) {
      this.markDown();
      // The subscriber may be silently dead (half-open TCP): reconnect it.
      if (this.sub.status === 'ready') this.sub.disconnect(true);
    }
    this.beat();
  };

  private readonly onClose = () => {
    this.finishStart();
    if (!this.closed) this.markDown();
  };

  private readonly onMessage = (_channel: Buffer, raw: Buffer) => {
    const text = raw.toString('utf8');
    if (text.startsWith('h|')) {
      if (text === this.heartbeat) {
        this.lastHeartbeat = Date.now();
        this.markUp();
      }
      return;
    }
    if (!text.startsWith('i|') || text.startsWith(this.prefix)) return;
    const bar = text.indexOf('|', 2);
    if (bar < 0) return;
    let message: BusMessage;
    try {
      message = JSON.parse(text.slice(bar + 1)) as BusMessage;
    } catch (error) {
      this.handlers.error(error);
      return;
    }
    this.received++;
    this.handlers.message(message);
  };

  private markUp(): void {
    if (this.state === 'up' || this.closed) return;
    this.state = 'up';
    this.handlers.up();
  }

  private markDown(): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.drops++;
    this.handlers.down();
  }

  /** Stops the heartbeat and closes the subscriber connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.finishStart();
    clearInterval(this.timer);
    this.sub.disconnect();
  }
}
