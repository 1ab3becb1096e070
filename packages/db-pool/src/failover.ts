import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { channels, type FailoverEvent } from './channels.js';
import { ClosedError, NoPrimaryError } from './errors.js';
import { HostEntry } from './internal/host-entry.js';
import type { ResolvedOptions } from './options.js';
import { isPermanentConnectError } from './sqlstate.js';
import type { ConnectWaitEvent } from './types.js';

/** What a probe learned about one host. */
export interface ProbeResult {
  label: string;
  reachable: boolean;
  inRecovery: boolean | undefined;
  latencyMs: number;
  error: string | undefined;
  /** The connect error itself, when the host was unreachable. */
  cause?: unknown;
  /** The connect error is one waiting cannot cure (unknown database, authentication, DNS). */
  permanent?: boolean;
}

const noop = () => {};

/**
 * Probes one host with a short-lived connection: `select pg_is_in_recovery()`.
 * Never throws.
 */
export async function probeHost(entry: HostEntry, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  const client = new pg.Client({ ...entry.config, connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs });
  client.on('error', noop);
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      await client.connect();
      const r = await client.query('select pg_is_in_recovery() as recovery');
      return (r.rows[0] as { recovery: boolean }).recovery;
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`probe timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const inRecovery = await Promise.race([work, timeout]);
    work.catch(noop);
    return {
      label: entry.label,
      reachable: true,
      inRecovery,
      latencyMs: performance.now() - started,
      error: undefined,
    };
  } catch (error) {
    return {
      label: entry.label,
      reachable: false,
      inRecovery: undefined,
      latencyMs: performance.now() - started,
      error: (error as Error).message,
      cause: error,
      permanent: isPermanentConnectError(error),
    };
  } finally {
    clearTimeout(timer);
    client.end().catch(noop);
  }
}

/**
 * Knows which of the configured primary hosts is the writable one. On a not-primary error or
 * connection loss, {@link PrimaryTracker.failover} probes every host (`pg_is_in_recovery()`)
 * until one accepts writes, switches to it, drains the old pool if the primary moved, and
 * publishes `cryptoscalp:db:failover`. Concurrent triggers share one failover.
 */
export class PrimaryTracker {
  readonly hosts: HostEntry[];
  private index = 0;
  private pending: Promise<HostEntry> | undefined;
  private closed = false;
  /** Completed failovers that changed the primary. */
  failovers = 0;
  /** Probe rounds that confirmed the same primary. */
  confirmations = 0;
  /** Set while no primary is known. */
  lastFailoverError: string | undefined;

  constructor(private readonly options: ResolvedOptions) {
    this.hosts = options.primaries.map((config) => new HostEntry(config, 'primary', options));
  }

  /** The current primary (may be stale while a failover is running). */
  get current(): HostEntry {
    return this.hosts[this.index]!;
  }

  /** True while a failover is running: writes should wait for {@link PrimaryTracker.ready}. */
  get failingOver(): boolean {
    return this.pending !== undefined;
  }

  /** Resolves with the primary once any running failover has finished. */
  ready(): Promise<HostEntry> {
    return this.pending ?? Promise.resolve(this.current);
  }

  /** Starts (or joins) a failover. `failed` is the host on which the failure was seen. */
  failover(failed: HostEntry, reason: string): Promise<HostEntry> {
    if (this.closed) return Promise.reject(new ClosedError());
    if (this.pending !== undefined) return this.pending;
    // A failure seen on a host that is no longer the primary is old news.
    if (failed !== this.current) return Promise.resolve(this.current);
    const run = this.run(reason).finally(() => {
      this.pending = undefined;
    });
    this.pending = run;
    run.catch(noop);
    return run;
  }

  private async run(reason: string): Promise<HostEntry> {
    const started = performance.now();
    const from = this.current;
    const { probeIntervalMs, timeoutMs, progressIntervalMs } = this.options.failover;
    const deadline = Date.now() + timeoutMs;
    const probeTimeout = Math.max(250, Math.min(2_000, this.options.pool.connectTimeoutMs));
    let attempts = 0;
    let nextReportAt = started + progressIntervalMs;
    // Try the current host first: a single killed connection must not move the primary.
    for (;;) {
      if (this.closed) throw new ClosedError();
      attempts++;
      const order = this.hosts.map((_, i) => (this.index + i) % this.hosts.length);
      const results = await Promise.all(order.map((i) => probeHost(this.hosts[i]!, probeTimeout)));
      const found = results.findIndex((r) => r.reachable && r.inRecovery === false);
      if (found >= 0) {
        const next = order[found]!;
        this.lastFailoverError = undefined;
        if (next === this.index) {
          this.confirmations++;
          return this.current;
        }
        this.index = next;
        this.failovers++;
        // The old primary's sessions are stale (dead, or now read-only): drop them all.
        from.pool.reset();
        this.publish(from.label, this.current.label, performance.now() - started, reason);
        return this.current;
      }
      this.lastFailoverError = results
        .map((r) => `${r.label}: ${r.error ?? (r.inRecovery ? 'in recovery' : '?')}`)
        .join('; ');
      // Every candidate refused for good (wrong database, credentials, host name): waiting cannot help.
      const permanent = results.every((r) => r.permanent === true);
      if (permanent || Date.now() + probeIntervalMs > deadline) {
        this.publish(from.label, undefined, performance.now() - started, reason);
        throw new NoPrimaryError(`no writable primary among ${this.hosts.length} host(s): ${this.lastFailoverError}`, {
          host: from.label,
          cause: results.find((r) => r.cause !== undefined)?.cause,
        });
      }
      const now = performance.now();
      if (now >= nextReportAt) {
        nextReportAt = now + progressIntervalMs;
        this.reportWait({
          component: this.options.name,
          hosts: this.hosts.map((h) => h.label),
          attempts,
          elapsedMs: Math.round(now - started),
          timeoutMs,
          lastError: this.lastFailoverError,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, probeIntervalMs));
    }
  }

  /** The `onConnectWait` hook's listeners and the (deprecated) option, else a process warning: a long wait is never silent. */
  private reportWait(event: ConnectWaitEvent): void {
    const hook = this.options.onConnectWait;
    const hooks = this.options.hooks.connectWait;
    if (hooks.hasListeners) hooks.emit(event);
    if (hook === undefined) {
      if (hooks.hasListeners) return;
      process.emitWarning(
        `[${event.component}] waiting for a writable primary: ${event.attempts} attempt(s) in ${event.elapsedMs} ms ` +
          `(gives up after ${event.timeoutMs} ms): ${event.lastError}`,
        { code: 'E_DB_CONNECT_WAIT' },
      );
      return;
    }
    try {
      hook(event);
    } catch {
      // A failing progress hook must not end the wait it reports on.
    }
  }

  private publish(from: string, to: string | undefined, durationMs: number, reason: string): void {
    const hook = this.options.hooks.failover;
    if (!channels.failover.hasSubscribers && !hook.hasListeners) return;
    const event: FailoverEvent = { component: this.options.name, from, to, durationMs, reason };
    if (channels.failover.hasSubscribers) channels.failover.publish(event);
    hook.emit(event);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.hosts.map((h) => h.close()));
  }
}
