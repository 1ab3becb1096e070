import { type Hook, HookEmitter } from '@cryptoscalp/contracts';
import { DEFAULT_MANAGER_NAME } from './defaults.js';
import { WsManagerError, WsManagerErrorCode } from './errors.js';
import { ExchangeRuntime } from './internal/exchange-runtime.js';
import { resolveConnectionOptions, resolveManagerOptions } from './internal/validate.js';
import { ManagedConnection } from './managed-connection.js';
import type {
  ConnectionOptions,
  GapInfo,
  HealthCheckResult,
  LoginInfo,
  MalformedInfo,
  ResyncInfo,
  StateChange,
  WebSocketManagerOptions,
} from './types.js';

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
  // The connection whose event is being relayed: a listener's exception is reported on it, like its own listeners'.
  private relaying: ManagedConnection | undefined;
  private readonly reportListenerError = (error: unknown): void => {
    this.hookListenerErrors++;
    const connection = this.relaying;
    if (connection !== undefined && connection.listenerCount('error') > 0) connection.emit('error', error);
  };
  private hookListenerErrors = 0;
  private readonly stateHook = new HookEmitter<StateChange>(this.reportListenerError);
  private readonly openHook = new HookEmitter<StateChange>(this.reportListenerError);
  private readonly closeHook = new HookEmitter<StateChange>(this.reportListenerError);
  private readonly gapHook = new HookEmitter<GapInfo>(this.reportListenerError);
  private readonly resyncHook = new HookEmitter<ResyncInfo>(this.reportListenerError);
  private readonly malformedHook = new HookEmitter<MalformedInfo>(this.reportListenerError);
  private readonly loginHook = new HookEmitter<LoginInfo>(this.reportListenerError);

  /**
   * Calls `listener` when any connection of this manager changes state (`connecting`, `open`, `reconnecting`,
   * `closed`). Same payload as `cryptoscalp:ws:state`. Returns a disposable that removes the listener. Replaces a
   * `conn.on('state', ...)` per connection: it also covers connections opened later.
   */
  readonly onStateChange: Hook<StateChange> = this.stateHook.hook;

  /** Calls `listener` when a connection of this manager becomes `open` (first open and every reconnect). Returns a disposable. */
  readonly onOpen: Hook<StateChange> = this.openHook.hook;

  /** Calls `listener` when a connection of this manager is `closed` for good (its `close()` or the manager's). Returns a disposable. */
  readonly onClose: Hook<StateChange> = this.closeHook.hook;

  /**
   * Calls `listener` when a stream of any connection shows a sequence gap. Same payload as `cryptoscalp:ws:gap`
   * (`info.connection` names the connection). Returns a disposable. Replaces `conn.on('gap', ...)`.
   */
  readonly onGap: Hook<GapInfo> = this.gapHook.hook;

  /**
   * Calls `listener` when a resync of any connection starts, finishes or fails. Same payload as `cryptoscalp:ws:resync`
   * (`info.connection` names the connection). Returns a disposable. Replaces `conn.on('resync', ...)`.
   */
  readonly onResync: Hook<ResyncInfo> = this.resyncHook.hook;

  /**
   * Calls `listener` when a frame of any connection is dropped as malformed or oversized. Same payload as
   * `cryptoscalp:ws:malformed` (`info.connection` names the connection). Returns a disposable. Replaces
   * `conn.on('malformed', ...)`.
   */
  readonly onMalformed: Hook<MalformedInfo> = this.malformedHook.hook;

  /** Calls `listener` when a private stream's login succeeds or fails on a new socket (`login` option). Returns a disposable. */
  readonly onLogin: Hook<LoginInfo> = this.loginHook.hook;

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
    this.relay(connection);
    return connection;
  }

  /**
   * Forwards a connection's instance events to the manager's hooks. Messages are not relayed: they are the hot path,
   * read per connection (`for await`, `conn.on('message')`). The other events are rare, and `state` is emitted
   * whether or not anyone listens, so a relay with no hook listener costs one length check per event.
   */
  private relay(connection: ManagedConnection): void {
    const forward =
      <T>(hook: HookEmitter<T>) =>
      (event: T): void => {
        if (!hook.hasListeners) return;
        const outer = this.relaying;
        this.relaying = connection;
        hook.emit(event);
        this.relaying = outer;
      };
    const state = forward(this.stateHook);
    const open = forward(this.openHook);
    const close = forward(this.closeHook);
    connection.on('state', (change) => {
      state(change);
      if (change.to === 'open') open(change);
      else if (change.to === 'closed') close(change);
    });
    connection.on('gap', forward(this.gapHook));
    connection.on('resync', forward(this.resyncHook));
    connection.on('malformed', forward(this.malformedHook));
    connection.on('login', forward(this.loginHook));
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
      hookListenerErrors: this.hookListenerErrors,
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
