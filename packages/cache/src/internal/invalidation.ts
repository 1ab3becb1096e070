import { busChannel } from '../channels.js';
import { type BusMessage, InvalidationBus } from './bus.js';
import { type Connection, duplicateClient } from './connection.js';
import { wakeLeaseWaiters } from './leases.js';
import type { CoreState } from './state.js';

/**
 * L1 invalidation across processes: owns the {@link InvalidationBus} (when Redis, L1 and the bus
 * are all on), applies other processes' messages to L1, moves the L1 epochs on every bus up/down
 * transition, and publishes this process's invalidations.
 */
export class Invalidation {
  /** The bus, or undefined when there is no Redis, no L1, or `bus: false`. */
  readonly bus: InvalidationBus | undefined;
  private readonly channel: string;

  constructor(
    private readonly s: CoreState,
    connection: Connection | undefined,
  ) {
    const opts = s.opts;
    this.channel = opts.bus === false ? '' : opts.bus.channel;
    if (connection !== undefined && opts.bus !== false && s.store !== undefined) {
      s.writeEpoch = 1;
      s.validEpoch = Number.NaN;
      const sub = duplicateClient(connection);
      this.bus = new InvalidationBus(connection.client, sub, opts.bus.channel, s.id, opts.bus.heartbeatMs, {
        message: (message) => this.onMessage(message),
        up: () => this.onState('up'),
        down: () => this.onState('down'),
        error: (error) => s.report('bus', 'bus', error),
      });
    }
  }

  /** Resolves once the bus is subscribed (only right after start), else undefined. */
  get starting(): Promise<void> | undefined {
    return this.bus?.starting;
  }

  /** Whether the bus is up (lease waiters then sleep until the release message). */
  get up(): boolean {
    return this.bus?.state === 'up';
  }

  /** Tells other processes to drop keys, tags or a namespace from their L1 (no-op without a bus). */
  async publish(message: BusMessage): Promise<void> {
    if (this.bus === undefined || this.s.tier === undefined) return;
    await this.s.tier.publish(this.channel, this.bus.encode(message));
    this.bus.published++;
  }

  close(): void {
    this.bus?.close();
  }

  private onMessage(message: BusMessage): void {
    const s = this.s;
    s.invalidationSeq++;
    const ns = s.namespaces.get(message.n);
    if (ns === undefined) return;
    if (message.l !== undefined) {
      wakeLeaseWaiters(ns, message.l);
      return;
    }
    const part = ns.part;
    if (part === undefined || s.store === undefined) return;
    if (message.c === 1) s.store.clearPartition(part);
    if (message.k !== undefined) for (const key of message.k) s.store.delete(part, key);
    if (message.g !== undefined) s.store.deleteTagged(part, new Set(message.g));
  }

  private onState(state: 'up' | 'down'): void {
    const s = this.s;
    s.writeEpoch++;
    s.validEpoch = state === 'up' ? s.writeEpoch : Number.NaN;
    s.invalidationSeq++;
    if (busChannel.hasSubscribers) busChannel.publish({ component: s.name, state, epoch: s.writeEpoch });
    if (s.hooks.bus.hasListeners) s.hooks.bus.emit({ component: s.name, state, epoch: s.writeEpoch });
  }
}
