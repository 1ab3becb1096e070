import type { HealthCheckResult } from '../model/health.js';

/** The health contract every component meets (the shape `@cryptoscalp/health` registers). */
export type ComponentHealth = HealthCheckResult;

/**
 * One part of the running trader. The {@link Kernel} starts components in the order they are declared and stops
 * them in reverse, each within its timeout. A component owns what it creates (clients, timers, servers) and
 * handles their errors; it exposes behaviour through its own methods, never through public mutable fields.
 */
export interface Component {
  /** Unique name: the health check's name and the log's. */
  readonly name: string;
  /** Starts the component; components declared earlier have started. */
  start(signal: AbortSignal): Promise<void> | void;
  /** Called once every component has started (the process is ready). Optional. */
  ready?(): void;
  /**
   * First phase of shutdown, in reverse order, while everything still runs: stop taking new work (the engine stops
   * deciding and cancels its open orders, the HTTP server turns readiness to 503). Optional.
   */
  quiesce?(reason: string): Promise<void> | void;
  /** Second phase of shutdown, in reverse order: flush and release everything. Must be idempotent. */
  stop(reason: string): Promise<void> | void;
  /** Health of the component; registered with the health registry when present. */
  healthCheck?(signal?: AbortSignal): Promise<ComponentHealth>;
  /** Whether a failing check makes the process unready. @default false */
  readonly critical?: boolean;
  /** A cheap synchronous snapshot of plain numbers. */
  stats?(): Record<string, unknown>;
  /** Start timeout. @default 30_000 */
  readonly startTimeoutMs?: number;
  /** Timeout of each shutdown phase. @default 10_000 */
  readonly stopTimeoutMs?: number;
}
