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
 * `ha` in the active engine, declared first so it stops last: the lease is released (expired now, so a standby
 * takes over at its next attempt) only after the stream and the writer flushed. The process's lease loop renews it;
 * this component shows the role and the epoch, and fails once the lease is lost.
 */
export class LeaderComponent implements Component {
  readonly name = 'ha';
  readonly critical = true;

  constructor(
    private readonly lease: EngineLease,
    private readonly active: Gauge,
  ) {}

  start(): void {
    this.active.set(1);
  }

  async healthCheck(): Promise<ComponentHealth> {
    const lease = this.lease;
    if (lease.state !== 'active')
      return {
        status: 'fail',
        output: `lease lost (epoch ${lease.epoch}): demoted, writes nothing more`,
        details: { role: 'demoted', epoch: lease.epoch },
      };
    const validMs = Math.round(lease.remainingMs());
    return {
      status: 'pass',
      observedValue: lease.epoch,
      observedUnit: 'lease epoch',
      output: `active: lease epoch ${lease.epoch}, valid for ${validMs} ms`,
      details: { role: 'active', epoch: lease.epoch, validMs, leaseErrors: lease.failures },
    };
  }

  async stop(): Promise<void> {
    this.active.set(0);
    await this.lease.release();
  }
}
