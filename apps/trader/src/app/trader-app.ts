import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { CacheManager } from '@cryptoscalp/cache';
import { PoolManager } from '@cryptoscalp/db-pool';
import { createHealthHandler, HealthRegistry } from '@cryptoscalp/health';
import { WebSocketManager } from '@cryptoscalp/ws-manager';
import type { TraderConfig } from '../config/config-types.js';
import { type ReplayReport, TradingEngine } from '../engine/trading-engine.js';
import type { JournalEntry } from '../journal/journal.js';
import { Journal } from '../journal/journal.js';
import { JournalWriter } from '../persistence/journal-writer.js';
import { ExchangeSimulator } from '../adapters/sim/exchange-simulator.js';
import type { Fill } from '../model/types.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.js';
import { ManagedBinanceFeed } from '../adapters/binance/binance-data-client.js';
import { createObservability } from './observability.js';
import { StatePublisher } from './state-publisher.js';

/** Where the running trader can be reached. */
export interface TraderEndpoints {
  http: string;
  health: string;
  readiness: string;
  metrics: string;
  marketWs: string;
  marketRest: string;
  database: string;
  cache: string;
  journal: string;
}

/** Options of {@link TraderApp}. */
export interface TraderAppOptions {
  config: TraderConfig;
  /** Log lines (startup, shutdown). @default console.log */
  log?: (line: string) => void;
  /** Extra request handler for paths the health handler does not serve (the API of issue 9 mounts here). */
  httpFallback?: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * The composed trader: simulator (or an external Binance-format feed) -> `@cryptoscalp/ws-manager` -> engine
 * (books, strategy, risk, paper execution, journal) -> PostgreSQL through `@cryptoscalp/db-pool` (embedded PGlite by
 * default) and the latest state in `@cryptoscalp/cache`; `@cryptoscalp/monitoring` metrics and alerts and
 * `@cryptoscalp/health` probes on one HTTP port, with graceful shutdown.
 */
export class TraderApp {
  readonly config: TraderConfig;
  engine!: TradingEngine;
  journal!: Journal;
  simulator: ExchangeSimulator | undefined;
  manager!: WebSocketManager;
  feed!: ManagedBinanceFeed;
  db!: PoolManager;
  writer!: JournalWriter;
  cache!: CacheManager;
  health!: HealthRegistry;
  server!: Server;
  embedded: EmbeddedPostgres | undefined;
  publisher!: StatePublisher;
  observability!: ReturnType<typeof createObservability>;
  replay!: ReplayReport & { truncatedBytes: number };
  endpoints!: TraderEndpoints;
  /** Set when PostgreSQL was not reachable at start: trading runs on the journal, the writer retries. */
  persistenceDeferred = false;
  private readonly log: (line: string) => void;
  private stopping: Promise<void> | undefined;
  private readonly startedAt = Date.now();

  constructor(private readonly options: TraderAppOptions) {
    this.config = options.config;
    this.log = options.log ?? ((l) => console.log(l));
  }

  /** Journal path from the configuration. */
  get journalPath(): string {
    return resolve(this.config.journal.path || join(this.config.dataDir, 'journal.jsonl'));
  }

  /** Starts everything; on failure, stops what was started and rethrows. */
  async start(): Promise<TraderEndpoints> {
    try {
      return await this.doStart();
    } catch (e) {
      await this.stop('start failed').catch(() => {});
      throw e;
    }
  }

  private async doStart(): Promise<TraderEndpoints> {
    const c = this.config;
    // 1. Journal and replay: the journal is the truth; everything else is rebuilt from it.
    const { journal, recovery } = Journal.open(this.journalPath, {
      fsync: c.journal.fsync,
      fsyncIntervalMs: c.journal.fsyncIntervalMs,
    });
    this.journal = journal;
    let feed: ManagedBinanceFeed | undefined;
    this.engine = new TradingEngine({ config: c, journal, requestSnapshot: (s) => feed?.requestSnapshot(s) });
    this.replay = { ...this.engine.replay(recovery.entries), truncatedBytes: recovery.truncatedBytes };

    // 2. PostgreSQL (embedded unless DATABASE_URL) and the journal writer.
    let dbUrl = c.database.url;
    if (!dbUrl) {
      this.embedded = await startEmbeddedPostgres(
        c.database.embedded === 'disk' ? { dataDir: resolve(c.dataDir, 'pglite') } : {},
      );
      dbUrl = this.embedded.url;
    }
    this.db = new PoolManager({
      name: 'postgres',
      primary: { connectionString: dbUrl },
      replicas: c.database.replicaUrls.map((connectionString) => ({ connectionString })),
      // Embedded PGlite is one database session behind a multiplexing socket: one connection keeps transactions
      // from interleaving, and no named prepared statements means none can collide inside that session.
      pool: { max: this.embedded ? 1 : 5, acquireTimeoutMs: 2000, connectTimeoutMs: 2000 },
      ...(this.embedded ? { prepare: false } : {}),
      queryTimeoutMs: 5000,
    });
    this.writer = new JournalWriter({
      db: this.db,
      schema: c.database.schema,
      instanceId: c.instanceId,
      journalPath: this.journalPath,
      currentSeq: () => this.journal.lastSeq,
    });
    this.engine.onEntry((e: JournalEntry) => this.writer.enqueue(e));
    try {
      await this.writer.start();
    } catch (e) {
      // Trading does not wait for PostgreSQL: the writer catches up from the journal when it answers.
      this.persistenceDeferred = true;
      this.log(`postgres unavailable at start (${(e as Error).message}); trading on the journal, writer will catch up`);
      void this.retryWriterStart();
    }

    // 3. Cache: L1 only without REDIS_URL.
    this.cache = new CacheManager({
      name: 'cache',
      namespace: c.cache.prefix,
      ...(c.cache.redisUrl ? { redis: { url: c.cache.redisUrl } } : {}),
    });
    this.publisher = new StatePublisher(this.cache, this.engine);

    // 4. Market data: simulator unless an external feed is configured.
    let wsUrl = c.market.wsUrl;
    let restUrl = c.market.restUrl;
    if (c.simulator.enabled && !wsUrl) {
      this.simulator = new ExchangeSimulator({
        symbols: [...c.symbols],
        port: c.simulator.port,
        tickMs: c.simulator.tickMs,
        eventsPerSecond: c.simulator.eventsPerSecond,
        seed: c.simulator.seed,
      });
      const urls = await this.simulator.start();
      wsUrl = urls.wsUrl;
      restUrl = urls.restUrl;
    }
    this.manager = new WebSocketManager({
      name: 'ws-manager',
      exchanges: { binance: { endpoints: [wsUrl], limits: { messagesPerSecond: 50, messageBurst: 50 } } },
    });
    feed = new ManagedBinanceFeed({
      manager: this.manager,
      restUrl,
      symbols: c.symbols,
      depthLimit: c.market.depthLimit,
      onEvent: (ev, t) => this.engine.onMarketEvent(ev, t),
      onSnapshot: (s, snap, force) => this.engine.onSnapshot(s, snap, force),
    });
    feed.onDecode = (ms) => this.engine.latency.decode.record(ms);
    this.feed = feed;

    // 5. Monitoring and health.
    this.observability = createObservability(c, this.engine, {
      marketDataErrors: () => (this.feed?.counters.malformed ?? 0) + this.engine.counters.gaps,
    });
    const { monitoring } = this.observability;
    this.engine.onEntry((e) => {
      if (e.type === 'fill') this.observability.onFill(e.data as Fill);
    });
    monitoring.watch(this.db);
    monitoring.watch(this.cache);
    monitoring.watch(this.manager);
    monitoring.watch({ name: 'trader', stats: () => this.traderStats() });
    this.health = new HealthRegistry({
      name: 'trader',
      version: '0.1.0',
      handleSignals: false,
      startupGracePeriodMs: 30_000,
      shutdownDelayMs: c.http.shutdownDelayMs,
      shutdownTimeoutMs: 3_000,
    });
    this.health.register(this.db, { critical: false });
    this.health.register(this.cache, { critical: true });
    this.health.register(this.manager);
    this.health.register(this.writer);
    this.health.register(
      {
        name: 'market-data',
        healthCheck: async () => {
          const synced = c.symbols.filter((s) => this.engine.isSynced(s)).length;
          return {
            status: synced === c.symbols.length ? 'pass' : synced > 0 ? 'warn' : 'fail',
            observedValue: synced,
            observedUnit: 'books in sync',
          };
        },
      },
      { critical: true },
    );
    this.health.register({
      name: 'trading',
      healthCheck: async () => ({
        status: this.engine.state === 'RUNNING' ? 'pass' : 'warn',
        output: `${this.engine.state}: ${this.engine.killSwitch.reason}`,
      }),
    });
    const handler = createHealthHandler(this.health, {
      metrics: () => monitoring.metrics(),
      alerts: () => monitoring.alerts.active(),
      protectMetrics: false,
    });
    this.server = createServer((req, res) =>
      handler(req, res, () => {
        if (req.url === '/metrics') {
          monitoring
            .metrics()
            .then((text) => {
              res.writeHead(200, { 'content-type': monitoring.contentType });
              res.end(text);
            })
            .catch(() => {
              res.writeHead(500).end();
            });
          return;
        }
        if (this.options.httpFallback) return this.options.httpFallback(req, res);
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"not found"}');
      }),
    );
    this.health.attach(this.server);
    await new Promise<void>((ok, fail) => {
      this.server.once('error', fail);
      this.server.listen(c.http.port, c.http.host, () => ok());
    });
    const port = (this.server.address() as AddressInfo).port;
    const http = `http://${c.http.host}:${port}`;

    // 6. Go.
    this.engine.start();
    this.publisher.start();
    await feed.start();
    this.endpoints = {
      http,
      health: `${http}/health/status`,
      readiness: `${http}/health/readiness`,
      metrics: `${http}/metrics`,
      marketWs: wsUrl,
      marketRest: restUrl,
      database: this.embedded ? `embedded PGlite (${this.embedded.storage}) at ${redact(dbUrl)}` : redact(dbUrl),
      cache: c.cache.redisUrl ? `L1 + Redis ${redact(c.cache.redisUrl)}` : 'in-process L1 only',
      journal: this.journalPath,
    };
    return this.endpoints;
  }

  private async retryWriterStart(): Promise<void> {
    while (!this.stopping) {
      await new Promise((r) => setTimeout(r, 1000).unref());
      if (this.stopping) return;
      try {
        await this.writer.start();
        this.persistenceDeferred = false;
        this.log('postgres reachable: journal writer caught up');
        return;
      } catch {
        // still down
      }
    }
  }

  /** Flat numbers for `cryptoscalp_stats_*` gauges. */
  traderStats(): Record<string, unknown> {
    const t = this.engine.portfolio.totals();
    return {
      counters: { ...this.engine.counters },
      tradingState: this.engine.state === 'RUNNING' ? 0 : this.engine.state === 'REDUCING' ? 1 : 2,
      journalSeq: this.journal.lastSeq,
      persistence: this.writer.stats(),
      pnl: { net: t.net, realized: t.realized, unrealized: t.unrealized, fees: t.fees, drawdown: t.drawdown },
      feed: { ...this.feed.counters },
      cachePublisher: { ...this.publisher.counters },
    };
  }

  /** A summary for the end of a run: trades, PnL, latency percentiles (ms). */
  summary(): Record<string, unknown> {
    const e = this.engine;
    const t = e.portfolio.totals();
    const pct = (r: { percentiles: (p: number[]) => Record<string, number> }) => {
      const p = r.percentiles([50, 99, 99.9]);
      return { p50: round(p.p50), p99: round(p.p99), p999: round(p.p999) };
    };
    return {
      runSeconds: round((Date.now() - this.startedAt) / 1000),
      state: e.state,
      replayed: this.replay,
      orders: e.counters.ordersSubmitted,
      fills: e.counters.fills,
      riskRejected: e.counters.riskRejected,
      pnl: {
        net: round(t.net),
        realized: round(t.realized),
        unrealized: round(t.unrealized),
        fees: round(t.fees),
        volume: round(t.volume),
        maxDrawdown: round(t.maxDrawdown),
        wins: t.wins,
        losses: t.losses,
      },
      positions: e.portfolio.snapshots().map((p) => ({ symbol: p.symbol, qty: p.qty, net: round(p.net) })),
      market: {
        bookEvents: e.counters.bookEvents,
        trades: e.counters.tradeEvents,
        gaps: e.counters.gaps,
        feed: this.feed?.counters,
      },
      latencyMs: {
        tickToDecision: pct(e.latency.tickToDecision),
        tickToJournaled: pct(e.latency.tickToJournaled),
        strategy: pct(e.latency.strategy),
        orderToFill: pct(e.latency.orderToFill),
      },
      strategy: (({ samples, hitRate, decisions }) => ({ samples, hitRate, decisions }))(
        e.strategy.stats() as { samples: number; hitRate: number; decisions: number },
      ),
      persistence: this.writer?.stats(),
      journal: { path: this.journalPath, lastSeq: this.journal?.lastSeq },
    };
  }

  /** Graceful shutdown in dependency order; idempotent. */
  stop(reason = 'stop'): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<void> {
    const step = async (name: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        this.log(`shutdown: ${name} failed: ${(e as Error).message}`);
      }
    };
    await step('health', () => this.health?.shutdown(reason));
    await step('feed', () => this.feed?.close());
    await step('ws-manager', () => this.manager?.close());
    await step('publisher', () => this.publisher?.stop());
    await step('engine', () => this.engine?.close());
    await step('writer', () => this.writer?.close());
    await step('journal', () => this.journal?.close());
    await step('monitoring', () => this.observability?.close());
    await step('cache', () => this.cache?.close());
    await step('postgres', () => this.db?.close());
    await step('embedded postgres', () => this.embedded?.stop());
    await step('simulator', () => this.simulator?.close());
    await step('http', () =>
      this.server?.listening ? new Promise<void>((r) => this.server.close(() => r())) : undefined,
    );
    this.health?.close();
  }
}

function round(n: number | undefined): number {
  return n === undefined || !Number.isFinite(n) ? Number.NaN : Math.round(n * 1e4) / 1e4;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
