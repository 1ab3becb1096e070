import { DEFAULT_MANAGER_NAME } from './defaults.js';
import { WsManagerError, WsManagerErrorCode } from './errors.js';
import { ExchangeRuntime } from './internal/exchange-runtime.js';
import { resolveConnectionOptions, resolveManagerOptions } from './internal/validate.js';
import { ManagedConnection } from './managed-connection.js';
import type { ConnectionOptions, HealthCheckResult, WebSocketManagerOptions } from './types.js';

/**
 * Resilient WebSocket client connections to many exchanges. Each exchange has endpoints (with failover and a
 * circuit breaker each) and a shared connect / subscribe-message budget; each {@link ManagedConnection} keeps its
 * subscriptions across reconnects and delivers messages deduplicated and in order.
 */
export class WebSocketManager {
  /** Health indicator name. @default 'ws-manager' */
  readonly name: string;
  private readonly runtimes = new Map<string, ExchangeRuntime>();
  private readonly live = new Set<ManagedConnection>();
  private counter = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  /** Validates `options` (throws `E_WS_INVALID_OPTION` naming the field); opens nothing until `connect()`. */
  constructor(options: WebSocketManagerOptions) {
    const resolved = resolveManagerOptions(options, DEFAULT_MANAGER_NAME);
    this.name = resolved.name;
    for (const [exchange, config] of resolved.exchanges) {
      this.runtimes.set(
        exchange,
        new ExchangeRuntime(exchange, config.endpoints, config.limits, config.breaker, config.connection),
      );
    }
  }

  /** The configured exchange names. */
  get exchanges(): string[] {
    return [...this.runtimes.keys()];
  }

  /** Live connections. */
  get connections(): ManagedConnection[] {
    return [...this.live];
  }

  /**
   * Opens a managed connection to `exchange` (it starts connecting at once). Options override the exchange's
   * `connection` defaults; they are validated here (`E_WS_INVALID_OPTION` naming the field).
   */
  connect(exchange: string, options?: ConnectionOptions): ManagedConnection {
    if (this.closed) throw new WsManagerError(WsManagerErrorCode.Closed, 'manager is closed');
    const runtime = this.runtimes.get(exchange);
    if (runtime === undefined) {
      throw new WsManagerError(WsManagerErrorCode.UnknownExchange, `unknown exchange ${exchange}`, { exchange });
    }
    const resolved = resolveConnectionOptions('connection', options, runtime.connection);
    const connection = new ManagedConnection(this.name, exchange, ++this.counter, runtime, resolved, (c) =>
      this.live.delete(c),
    );
    this.live.add(connection);
    return connection;
  }

  /** Plain snapshot: per exchange (endpoints, breaker states, budgets) and per connection (see ManagedConnection.stats). */
  stats(): Record<string, unknown> {
    const exchanges: Record<string, unknown> = {};
    for (const [name, runtime] of this.runtimes) {
      exchanges[name] = {
        // Keyed by URL (not an array): stats() is plain data that monitoring can walk into gauges.
        endpoints: Object.fromEntries(
          runtime.endpoints.map((e) => [
            e.url,
            { breaker: ExchangeRuntime.breakerState(e), successes: e.successes, failures: e.failures },
          ]),
        ),
        connectTokens: runtime.connectBucket.available(),
        connectWaits: runtime.connectBucket.waited,
        messageTokens: runtime.messageBucket.available(),
        messageWaits: runtime.messageBucket.waited,
      };
    }
    const connections = [...this.live].map((c) => c.stats());
    return {
      name: this.name,
      connections: connections.length,
      open: connections.filter((c) => c.state === 'open').length,
      exchanges,
      connectionStats: Object.fromEntries(connections.map((c) => [c.id, c])),
    };
  }

  /**
   * `pass` when every connection is open (or there is none), `warn` when some are (re)connecting, `fail` when
   * connections exist and none is open, or the manager is closed. `observedValue` is the number of open connections.
   */
  async healthCheck(signal?: AbortSignal): Promise<HealthCheckResult> {
    const time = new Date().toISOString();
    if (signal?.aborted) return { status: 'fail', output: 'health check aborted', time };
    if (this.closed)
      return { status: 'fail', output: 'manager closed', time, observedValue: 0, observedUnit: 'connections' };
    const all = [...this.live];
    const open = all.filter((c) => c.state === 'open').length;
    const notOpen = all.filter((c) => c.state !== 'open').map((c) => `${c.id} ${c.state}`);
    const status = all.length === 0 || open === all.length ? 'pass' : open === 0 ? 'fail' : 'warn';
    return {
      status,
      observedValue: open,
      observedUnit: 'connections',
      time,
      output:
        all.length === 0 ? 'no connections' : notOpen.length === 0 ? `${open} open` : `not open: ${notOpen.join(', ')}`,
      details: { total: all.length, open },
    };
  }

  /**
   * Closes every connection and stops the breakers. Idempotent: every caller gets the same promise, which resolves
   * once the close has finished.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.live].map((c) => c.close()));
    const error = new WsManagerError(WsManagerErrorCode.Closed, 'manager is closed');
    for (const runtime of this.runtimes.values()) runtime.close(error);
  }
}
