import type { LiveSocket } from './live-socket.js';
import type { StreamPipeline } from './stream-pipeline.js';

const noop = () => {};

/** One subscribed stream: the messages that (un)subscribe it and when it was last (re)subscribed. */
export interface Subscription {
  subscribe: unknown;
  unsubscribe: unknown;
  subscribedAt: number;
}

/** Sends one message on one socket (the connection's send queue). */
export type SendOn = (socket: LiveSocket, message: unknown) => Promise<void>;

/**
 * The streams a connection is subscribed to: restored on every new socket, and resubscribed (unsubscribe, then
 * subscribe) when a stream stayed silent for `idleTimeoutMs` although the socket is alive.
 */
export class SubscriptionRegistry {
  private readonly subscriptions = new Map<string, Subscription>();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly send: SendOn,
  ) {}

  /** Streams currently subscribed, in subscription order. */
  streams(): string[] {
    return [...this.subscriptions.keys()];
  }

  has(stream: string): boolean {
    return this.subscriptions.has(stream);
  }

  get(stream: string): Subscription | undefined {
    return this.subscriptions.get(stream);
  }

  /** Records (or replaces) a stream's subscription and returns it. */
  add(stream: string, subscribe: unknown, unsubscribe: unknown): Subscription {
    const subscription: Subscription = { subscribe, unsubscribe, subscribedAt: Date.now() };
    this.subscriptions.set(stream, subscription);
    return subscription;
  }

  delete(stream: string): void {
    this.subscriptions.delete(stream);
  }

  /** Marks the socket ready and sends every subscription on it (failures are left to the socket's close handler). */
  restore(socket: LiveSocket): void {
    socket.ready = true;
    for (const subscription of this.subscriptions.values()) {
      void this.send(socket, subscription.subscribe).catch(noop);
    }
  }

  /** Starts the idle check (a no-op when `idleTimeoutMs` is 0); `serving()` gives the socket to check against. */
  startIdleCheck(serving: () => LiveSocket | undefined, pipelines: ReadonlyMap<string, StreamPipeline>): void {
    const limit = this.idleTimeoutMs;
    if (limit <= 0) return;
    this.idleTimer = setInterval(
      () => {
        const socket = serving();
        if (socket !== undefined) this.resubscribeIdle(socket, pipelines, Date.now());
      },
      Math.max(10, limit / 4),
    );
    this.idleTimer.unref?.();
  }

  /** Resubscribes the streams silent for `idleTimeoutMs` (since their last message, subscription or the socket's open). */
  private resubscribeIdle(socket: LiveSocket, pipelines: ReadonlyMap<string, StreamPipeline>, now: number): void {
    const limit = this.idleTimeoutMs;
    for (const [stream, subscription] of this.subscriptions) {
      const pipeline = pipelines.get(stream);
      const last = Math.max(pipeline?.lastMessageAt ?? 0, subscription.subscribedAt, socket.openedAt);
      if (now - last < limit) continue;
      if (pipeline !== undefined) {
        pipeline.idleResubscribes++;
        pipeline.lastMessageAt = now;
      }
      subscription.subscribedAt = now;
      if (subscription.unsubscribe !== undefined) void this.send(socket, subscription.unsubscribe).catch(noop);
      void this.send(socket, subscription.subscribe).catch(noop);
    }
  }

  /** Stops the idle check (the connection is closing). */
  stop(): void {
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
  }
}
