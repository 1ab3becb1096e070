import type { Gauge } from 'prom-client';
import type { Component, ComponentHealth } from '../kernel/component.js';
import type { EngineLease } from './engine-lease.js';
import type { JournalFollower } from './journal-follower.js';

/**
 * `ha` in a standby engine: follows the event stream into the local journal while the process competes for the
 * lease. Critical and `pass` while following: the standby is ready (as a standby) for its orchestrator; it serves
 * no writer traffic anyway, since gateways reach the active engine only through the Redis command channel, which
 * only the active engine consumes.
 */
export class StandbyComponent implements Component {
  readonly name = 'ha';
  readonly critical = true;
  /** Reading the whole stream into the journal can take a while on a long history. */
  readonly startTimeoutMs = 120_000;

  constructor(
    private readonly lease: EngineLease,
    private readonly follower: JournalFollower,
    private readonly active: Gauge,
  ) {}

  async start(): Promise<void> {
    this.active.set(0);
    await this.lease.prepare();
    await this.follower.start();
  }

  async healthCheck(): Promise<ComponentHealth> {
    const f = this.follower;
    const details = {
      role: 'standby',
      epoch: this.lease.epoch,
      followedSeq: f.lastSeq,
      streamOffset: f.offset,
      cutAtStart: f.counts.truncated,
      leaseErrors: this.lease.failures,
    };
    if (f.failure !== undefined) return { status: 'fail', output: f.failure, details };
    return {
      status: 'pass',
      observedValue: f.lastSeq,
      observedUnit: 'journal entry followed',
      output: `standby: journal follows the event stream (entry ${f.lastSeq}); takes over when the lease expires${this.lease.lastError === undefined ? '' : ` (lease: ${this.lease.lastError})`}`,
      details,
    };
  }

  async stop(): Promise<void> {
    await this.follower.close();
  }
}

/**
 * `ha` in the active engine, declared first (so it stops last, after the stream and the writer flushed): renews the
 * lease every `renewIntervalMs` and reports its loss, which the process answers by demoting itself.
 */
export class LeaderComponent implements Component {
  readonly name = 'ha';
  readonly critical = true;
  #timer: NodeJS.Timeout | undefined;
  #renewing = false;

  constructor(
    private readonly lease: EngineLease,
    private readonly renewIntervalMs: number,
    private readonly active: Gauge,
    private readonly onLost: (reason: string) => void,
  ) {}

  start(): void {
    this.active.set(1);
    this.#timer = setInterval(() => void this.renew(), this.renewIntervalMs);
  }

  private async renew(): Promise<void> {
    if (this.#renewing) return;
    this.#renewing = true;
    try {
      if ((await this.lease.tick()) === 'lost') {
        this.stopRenewing();
        this.onLost(`the engine lease (epoch ${this.lease.epoch}) was not renewed in time`);
      }
    } finally {
      this.#renewing = false;
    }
  }

  private stopRenewing(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.active.set(0);
  }

  async healthCheck(): Promise<ComponentHealth> {
    const details = { role: this.lease.state === 'active' ? 'active' : 'demoted', epoch: this.lease.epoch };
    if (this.lease.state !== 'active')
      return { status: 'fail', output: `lease lost (epoch ${this.lease.epoch}): demoting, writes nothing`, details };
    return {
      status: 'pass',
      observedValue: this.lease.epoch,
      observedUnit: 'lease epoch',
      output: `active: lease epoch ${this.lease.epoch}, valid for ${Math.round(this.lease.remainingMs())} ms`,
      details: { ...details, validMs: Math.round(this.lease.remainingMs()), leaseErrors: this.lease.failures },
    };
  }

  async stop(): Promise<void> {
    this.stopRenewing();
    // Released only after every other component stopped (declared first): the next leader sees every entry.
    await this.lease.release();
  }
}
