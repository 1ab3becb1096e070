import type { ManagedConnection } from '@cryptoscalp/ws-manager';

/** One book's resubscription: the messages that make the venue send a fresh snapshot. */
export interface Resubscription {
  unsubscribe: unknown;
  subscribe: unknown;
}

/**
 * Recovery for venues without a REST snapshot (Coinbase, Kraken): unsubscribe and subscribe the book again, and the
 * venue answers with a new snapshot. One resubscription per book at a time; if its snapshot has not arrived within
 * `timeoutMs` it is sent again. While the connection is down nothing is sent: ws-manager resubscribes everything
 * when it reconnects, which brings fresh snapshots anyway.
 */
export class Resubscriber {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly connection: ManagedConnection,
    private readonly messagesFor: (key: string) => Resubscription,
    private readonly onSend: () => void,
    private readonly timeoutMs = 5_000,
  ) {}

  /** Resubscribes `key` unless a resubscription of it is already waiting for its snapshot. */
  request(key: string): void {
    if (this.closed || this.pending.has(key) || this.connection.state !== 'open') return;
    const timer = setTimeout(() => {
      this.pending.delete(key);
      this.request(key);
    }, this.timeoutMs);
    timer.unref();
    this.pending.set(key, timer);
    this.onSend();
    const { unsubscribe, subscribe } = this.messagesFor(key);
    // A failed send (the socket just dropped) is left to the timer, or to the reconnect's resubscription.
    this.connection
      .send(unsubscribe)
      .then(() => this.connection.send(subscribe))
      .catch(() => {});
  }

  /** The snapshot of `key` arrived. */
  done(key: string): void {
    const timer = this.pending.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.pending.delete(key);
  }

  /** Forgets every pending resubscription (the connection dropped: the reconnect resubscribes all). */
  clear(): void {
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }

  /** Stops; idempotent. */
  close(): void {
    this.closed = true;
    this.clear();
  }
}
