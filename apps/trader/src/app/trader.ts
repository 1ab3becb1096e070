import type { Redis } from 'ioredis';
import { MemoryCommandBus } from '../bus/memory-command-bus.js';
import { MemoryEventLog } from '../bus/memory-event-log.js';
import { RedisCommandBus } from '../bus/redis-command-bus.js';
import { RedisEventLog } from '../bus/redis-event-log.js';
import type { CommandBus, EventLog } from '../bus/types.js';
import type { TraderConfig } from '../config/config-types.js';
import { createRedisClient } from '../config/redis-url.js';
import type { TradingEngine } from '../engine/trading-engine.js';
import { TraderError } from '../errors.js';
import { HaEngine, type LeaderHooks, withIdleTransactionTimeout } from '../ha/ha-engine.js';
import type { Log, LogLevel } from '../internal/log.js';
import type { Component } from '../kernel/component.js';
import { Kernel } from '../kernel/kernel.js';
import type { ReadModel } from '../read-model/read-model.js';
import type { TraderRecord } from '../read-model/trader-record.js';
import { createCommandHandler } from './command-handler.js';
import { CacheComponent } from './components/cache-component.js';
import { CommandsComponent } from './components/commands-component.js';
import { EngineComponent, type EngineReplay } from './components/engine-component.js';
import { EventConsumer } from './components/event-consumer.js';
import { EventPublisher } from './components/event-publisher.js';
import { HealthComponent } from './components/health-component.js';
import { HttpComponent } from './components/http-component.js';
import { JournalComponent } from './components/journal-component.js';
import { MarketDataComponent } from './components/market-data-component.js';
import { ObservabilityComponent } from './components/observability-component.js';
import { OpsHttpComponent } from './components/ops-http-component.js';
import { PersistenceComponent } from './components/persistence-component.js';
import { PostgresComponent, redact } from './components/postgres-component.js';
import { RecordingComponent } from './components/recording-component.js';
import { TradingComponent } from './components/trading-component.js';
import { buildEngineStatus } from './engine-status.js';
import { LogCounter } from './log-metrics.js';
import { createReadModelPort, type ReadModelPort } from './read-model-port.js';
import { engineSummary, round } from './summary.js';

/** Options of {@link createTrader}. */
export interface TraderOptions {
  config: TraderConfig;
  /**
   * Where the trader's log lines go, with their level (`createLogWriter` in `internal/log.ts` writes them as text or
   * JSON for `log.format`; the command line passes one). Every line is counted at its level before it is handed on.
   * @default console.log (the line, whatever its level)
   */
  log?: (line: string, level: LogLevel) => void;
  /** HS256 secret of the API's tokens (`TRADER_JWT_SECRET`); empty makes a random one and a local admin token. */
  jwtSecret?: string;
  /** Bearer token accepted by `/metrics` only (`TRADER_METRICS_TOKEN`); empty: none. */
  metricsToken?: string;
  /**
   * KEK of encryption at rest (`TRADER_KEK_FILE`, or a KMS implementing the interface).
   * @default the development KEK in the data directory
   */
  kek?: import('../security/kek.js').KeyEncryptionKey;
  /** KEKs being replaced (`TRADER_KEK_PREVIOUS_FILE`): unwrap only. @default [] */
  previousKeks?: import('../security/kek.js').KeyEncryptionKey[];
  /** The process must end non-zero (engine active/standby: lease lost or takeover failed). @default none */
  onFatal?: (reason: string) => void;
}

/** Where the running trader can be reached (what applies to its role). */
export interface TraderEndpoints {
  role: TraderConfig['role'];
  http: string;
  health: string;
  readiness: string;
  metrics: string;
  /** Dashboard URL (with a short-lived local admin token in its fragment when no secret was configured). */
  dashboard?: string;
  localAdminToken?: string;
  market?: { ws: string; rest: string };
  database?: string;
  cache?: string;
  journal?: string;
  bus: string;
  /** Engine active/standby: the role the process started in (a standby takes over later). */
  ha?: { role: 'standby' };
}

/** A running (or stopped) trader process of one role. */
export interface Trader {
  readonly role: TraderConfig['role'];
  /** Starts every component in order; on failure stops what started and rethrows. */
  start(): Promise<TraderEndpoints>;
  /** Two-phase shutdown (stop trading first, then release everything in reverse order). Idempotent. */
  stop(reason: string): Promise<void>;
  /** A summary of the run (call after stop for the final state). */
  summary(): Record<string, unknown>;
  /** The engine (engine roles), for tests and tools. */
  engine(): TradingEngine;
  /** What replay found at start (engine roles). */
  replay(): EngineReplay;
  /** The read model the API reads. */
  readModel(): ReadModel;
  /** The components, in start order. */
  components(): readonly Component[];
  /** One component by name (tests and tools; production code hands components to each other explicitly). */
  component<C extends Component>(name: string): C;
}

/**
 * Builds the trader for its role as a {@link Kernel} of components:
 *
 * - `all`: journal, postgres, cache, event stream (in process), engine, persistence, publisher, monitoring,
 *   commands (in process), health, HTTP (API, streams, dashboard), market data, trading;
 * - `engine`: the same with the event stream and commands on Redis and an ops HTTP server (health, metrics);
 * - `gateway`: postgres (audit), cache, event stream consumer, commands (sender), monitoring, health, HTTP.
 */
export function createTrader(options: TraderOptions): Trader {
  const { config } = options;
  const logCounter = new LogCounter();
  // Every line counts at its level (info unless the component says otherwise).
  const log = logCounter.logger(options.log ?? ((l: string) => console.log(l)));
  const role = config.role;
  const busUrl = config.bus.redisUrl || config.cache.redisUrl;
  const startedAt = Date.now();
  let busRedis: Redis | undefined;
  let busRedisErrors = 0;
  const redis = () => {
    if (busRedis === undefined) {
      busRedis = createRedisClient(busUrl, { maxRetriesPerRequest: null });
      busRedis.on('error', () => {
        busRedisErrors++;
      });
    }
    return busRedis;
  };
  const key = config.bus.key;
  const context: ComposeContext = {
    options,
    log,
    logCounter,
    redis,
    busRedisErrors: () => busRedisErrors,
  };
  // With active/standby the engine's composition is made at takeover (it needs the lease's epoch and the port the
  // standby's server took); until then the process is a standby.
  const ha: HaEngine | undefined =
    role === 'engine' && config.ha.enabled
      ? new HaEngine({
          config,
          log,
          redis,
          extraMetrics: [logCounter.metric],
          metricsToken: options.metricsToken ?? '',
          activate: (leader, port) => {
            const database = {
              ...config.database,
              url: withIdleTransactionTimeout(config.database.url, config.ha.leaseTtlMs),
            };
            parts = compose({ ...config, database, http: { ...config.http, port } }, context, leader);
            return parts.kernel;
          },
          onFatal: (reason) => options.onFatal?.(reason),
        })
      : undefined;
  let parts: Composition | undefined = ha === undefined ? compose(config, context) : undefined;
  const running = (): Composition => {
    if (parts === undefined)
      throw new TraderError(
        'E_TRADER_INVALID_OPTION',
        'this engine is a standby: it has no engine until it takes over',
      );
    return parts;
  };
  const engineOf = (): EngineComponent => {
    const engineC = running().engineC;
    if (engineC === undefined) throw new TraderError('E_TRADER_INVALID_OPTION', `role ${role} has no engine`);
    return engineC;
  };
  const endpoints = (p: Composition): TraderEndpoints => {
    const { http, ops, market, journal } = p;
    const base = http?.url() ?? ops?.url() ?? '';
    const token = http?.localAdminToken;
    return {
      role,
      http: base,
      health: `${base}/health/status`,
      readiness: `${base}/health/readiness`,
      metrics: `${base}/metrics`,
      // In the fragment: browsers never send it, so it stays out of request lines and proxy logs.
      ...(http === undefined ? {} : { dashboard: `${base}/${token ? `#token=${token}` : ''}` }),
      ...(token === undefined ? {} : { localAdminToken: token }),
      ...(market === undefined ? {} : { market: { ws: market.urls().wsUrl, rest: market.urls().restUrl } }),
      database: p.postgres.describe(),
      cache: p.cache.describe(),
      ...(journal === undefined ? {} : { journal: journal.path }),
      bus: role === 'all' ? 'in process' : `Redis stream ${key}:events at ${redact(busUrl)}`,
    };
  };

  return {
    role,
    async start() {
      if (ha !== undefined) {
        try {
          const url = await ha.start();
          return {
            role,
            http: url,
            health: `${url}/health/status`,
            readiness: `${url}/health/readiness`,
            metrics: `${url}/metrics`,
            bus: `Redis stream ${key}:events at ${redact(busUrl)}`,
            ha: { role: 'standby' },
          };
        } catch (e) {
          busRedis?.disconnect();
          throw e;
        }
      }
      const p = running();
      try {
        await p.kernel.start();
      } catch (e) {
        p.port?.close();
        busRedis?.disconnect();
        throw e;
      }
      return endpoints(p);
    },
    async stop(reason) {
      if (ha !== undefined) await ha.stop(reason);
      else await parts?.kernel.stop(reason);
      parts?.port?.close();
      busRedis?.disconnect();
    },
    summary() {
      const runSeconds = round((Date.now() - startedAt) / 1000);
      const p = parts;
      if (p === undefined) return { role, runSeconds, ha: ha?.summary() };
      const { engineC, persistence, market, journal, trading } = p;
      if (engineC === undefined) return { role, runSeconds, readModel: p.model().stats() };
      return {
        role,
        runSeconds,
        ...(ha === undefined ? {} : { ha: ha.summary() }),
        ...engineSummary(engineC.engine(), {
          replay: engineC.replay(),
          persistence: persistence?.stats(),
          feed: market?.stats(),
          journal: { path: journal?.path, lastSeq: journal?.journal().lastSeq },
          leftOpenAtExit: trading?.leftOpen,
        }),
      };
    },
    engine: () => engineOf().engine(),
    replay: () => engineOf().replay(),
    readModel: () => running().model(),
    components: () => parts?.kernel.list() ?? ha?.components() ?? [],
    component<C extends Component>(name: string): C {
      const c = (parts?.kernel.list() ?? ha?.components() ?? []).find((x) => x.name === name);
      if (c === undefined) throw new TraderError('E_TRADER_INVALID_OPTION', `no component ${name} in role ${role}`);
      return c as C;
    },
  };
}

/** What every composition shares: the options, the log, the bus's Redis connection. */
interface ComposeContext {
  options: TraderOptions;
  log: Log;
  logCounter: LogCounter;
  redis: () => Redis;
  busRedisErrors: () => number;
}

/** One role's kernel of components and the handles the trader's methods read. */
interface Composition {
  kernel: Kernel;
  postgres: PostgresComponent;
  cache: CacheComponent;
  journal?: JournalComponent;
  engineC?: EngineComponent;
  persistence?: PersistenceComponent;
  market?: MarketDataComponent;
  trading?: TradingComponent;
  http?: HttpComponent;
  ops?: OpsHttpComponent;
  port?: ReadModelPort;
  model: () => ReadModel;
}

/** Builds the kernel of the configuration's role; `leader`: the active engine of an active/standby group. */
function compose(config: TraderConfig, ctx: ComposeContext, leader?: LeaderHooks): Composition {
  const { options, log, logCounter, redis } = ctx;
  const kernel = new Kernel({ log });
  const role = config.role;
  const key = config.bus.key;
  const log_: EventLog<TraderRecord> =
    role === 'all'
      ? new MemoryEventLog<TraderRecord>({ name: 'event-stream' })
      : new RedisEventLog<TraderRecord>({
          name: 'event-stream',
          redis: redis(),
          key: `${key}:events`,
          waitReplicas: config.bus.waitReplicas,
          log: (line) => log(`trader: ${line}`, 'warn'),
          ...(leader === undefined ? {} : { fenceEpoch: leader.epoch }),
        });
  const bus: CommandBus =
    role === 'all'
      ? new MemoryCommandBus({ name: 'commands' })
      : // Each process gets its own random reply origin: gateways started from one configuration never share replies.
        new RedisCommandBus({ name: 'commands', redis: redis(), key: `${key}:commands` });

  let journal: JournalComponent | undefined;
  let engineC: EngineComponent | undefined;
  let persistence: PersistenceComponent | undefined;
  let publisher: EventPublisher | undefined;
  let consumer: EventConsumer | undefined;
  let market: MarketDataComponent | undefined;
  let trading: TradingComponent | undefined;
  let http: HttpComponent | undefined;
  let ops: OpsHttpComponent | undefined;
  let port: ReadModelPort | undefined;

  // First, so it stops last: the lease is released once the stream and the writer flushed.
  if (leader !== undefined) kernel.add(leader.component);
  if (role !== 'gateway') journal = kernel.add(new JournalComponent(config, log));
  const postgres = kernel.add(new PostgresComponent(config, log));
  const cache = kernel.add(new CacheComponent(config));
  if (role !== 'gateway') {
    engineC = kernel.add(
      new EngineComponent(
        config,
        journal as JournalComponent,
        leader === undefined
          ? { log }
          : { log, wrapExecution: (venue) => leader.wrapExecution(venue, () => (publisher as EventPublisher).flush()) },
      ),
    );
    persistence = kernel.add(
      new PersistenceComponent(
        config,
        journal as JournalComponent,
        postgres,
        engineC,
        log,
        leader === undefined
          ? undefined
          : { fence: leader.fence, writableSeq: () => publisher?.committedEntrySeq() ?? 0 },
      ),
    );
  }
  const observability = new ObservabilityComponent(config, engineC, () => market?.errors() ?? 0, [
    logCounter.metric,
    ...(leader === undefined ? [] : [leader.activeMetric]),
    ...(config.execution.venue === 'binance' && engineC !== undefined ? engineC.venueMetrics.metrics : []),
  ]);
  const health = new HealthComponent(config, () => kernel.list());
  if (engineC !== undefined) {
    const ec = engineC;
    publisher = kernel.add(
      new EventPublisher(config, journal as JournalComponent, ec, log_, async () =>
        buildEngineStatus(config, ec.engine(), {
          // In one process the API lists the same registry itself.
          components: role === 'all' ? [] : await health.statuses(),
          alerts: (await observability.alerts()?.list()) ?? [],
        }),
      ),
    );
  } else {
    consumer = kernel.add(new EventConsumer(log_));
  }
  kernel.add(observability);
  const model = (): ReadModel => (publisher ?? (consumer as EventConsumer)).model;
  const pub = publisher;
  kernel.add(
    new CommandsComponent(
      bus,
      engineC === undefined || pub === undefined
        ? undefined
        : () => createCommandHandler((engineC as EngineComponent).engine(), pub, observability.alerts()),
    ),
  );
  kernel.add(health);
  if (role !== 'engine')
    // Made now, before the event stream starts, so it retains the records a starting gateway replays for the
    // stream history (a port made later would miss them).
    port = createReadModelPort({
      model: model(),
      commands: bus,
      waitFor: (offset, ms) =>
        consumer !== undefined ? consumer.waitFor(offset, ms) : Promise.resolve(model().offset >= offset),
      commandTimeoutMs: config.bus.commandTimeoutMs,
      components: () => health.statuses(),
    });
  if (role === 'engine') {
    ops = kernel.add(new OpsHttpComponent(config, health, observability, options.metricsToken, log));
  } else {
    http = kernel.add(
      new HttpComponent({
        config,
        secret: options.jwtSecret ?? '',
        metricsToken: options.metricsToken ?? '',
        ...(options.kek === undefined ? {} : { kek: options.kek }),
        ...(options.previousKeks === undefined ? {} : { previousKeks: options.previousKeks }),
        epoch: () => log_.epoch,
        port: () => port as ReadModelPort,
        postgres,
        cache,
        health,
        observability,
        log,
      }),
    );
  }
  if (engineC !== undefined) {
    const ec = engineC;
    const recording = kernel.add(new RecordingComponent(config));
    market = kernel.add(
      new MarketDataComponent(
        config,
        ec,
        (m) => observability.watch(m),
        (s) => recording.tap(s),
      ),
    );
    trading = kernel.add(new TradingComponent(ec));
  }
  observability.watch(() => postgres.pool());
  observability.watch(() => cache.cache());
  observability.watch({ name: 'trader', stats: () => traderStats() });

  const traderStats = (): Record<string, unknown> => {
    // The event stream's own figures include its read model's (`eventStream.model.*`).
    const out: Record<string, unknown> = {
      eventStream: (publisher ?? (consumer as EventConsumer)).stats(),
      busRedisErrors: ctx.busRedisErrors(),
      // For the deployment's alerts and SLOs: readiness (0 pass, 1 warn, 2 fail, 3 starting, 4 draining) and the
      // API's request counts by status class (roles all and gateway).
      readiness: health.registry.readinessState(),
      http: http?.stats(),
    };
    if (engineC !== undefined) {
      const e = engineC.engine();
      const t = e.portfolio.totals();
      Object.assign(out, {
        counters: { ...e.counters },
        booksInSync: config.symbols.filter((s) => e.isSynced(s)).length,
        journalDown: e.journalDown === undefined ? 0 : 1,
        tradingState: e.state === 'RUNNING' ? 0 : e.state === 'REDUCING' ? 1 : 2,
        journalSeq: journal?.journal().lastSeq,
        persistence: persistence?.stats(),
        pnl: { net: t.net, realized: t.realized, unrealized: t.unrealized, fees: t.fees, drawdown: t.drawdown },
        feed: market?.stats(),
      });
    }
    return out;
  };

  return {
    kernel,
    postgres,
    cache,
    model,
    ...(journal === undefined ? {} : { journal }),
    ...(engineC === undefined ? {} : { engineC }),
    ...(persistence === undefined ? {} : { persistence }),
    ...(market === undefined ? {} : { market }),
    ...(trading === undefined ? {} : { trading }),
    ...(http === undefined ? {} : { http }),
    ...(ops === undefined ? {} : { ops }),
    ...(port === undefined ? {} : { port }),
  };
}
