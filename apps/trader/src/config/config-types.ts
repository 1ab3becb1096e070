import type { LogFormat, LogLevel } from '../internal/log.js';
import type { Venue } from '../model/types.js';

/** The trader's configuration. Every field has a default in {@link DEFAULT_CONFIG}. */
export interface TraderConfig {
  /**
   * Process role: `all` runs everything in one process (what `npm start` runs); `engine` runs market data,
   * strategy, risk, execution, the journal and persistence, and publishes to the event bus; `gateway` serves the
   * API, the streams and the dashboard from the event bus and sends commands to the engine. Also `--role` and
   * `TRADER_ROLE`. @default 'all'
   */
  role: 'all' | 'engine' | 'gateway';
  /** Environment name; selects the `environments.<env>` section of the config file. @default 'development' */
  env: string;
  /** Instance id: prefix of client order ids and of cache keys. @default 'trader-1' */
  instanceId: string;
  /**
   * Symbols to trade, in Binance's spelling for every venue (upper case, no separator: `BTCUSD` is Coinbase's
   * `BTC-USD` and Kraken's `XBT/USD`). @default ['BTCUSDT','ETHUSDT','SOLUSDT']
   */
  symbols: string[];
  /** Directory for the journal and the embedded database. @default '.trader-data' */
  dataDir: string;
  /** Run for this many seconds, print a summary and exit; 0 runs until a signal. @default 0 */
  durationSec: number;
  simulator: {
    /** Start the built-in exchange simulator (used when `market.wsUrl` is empty). @default true */
    enabled: boolean;
    /** Port of the simulator's WebSocket and REST server; 0 picks a free port. @default 0 */
    port: number;
    /** Generator tick: order-flow events are generated and a depth diff sent every `tickMs`. @default 10 */
    tickMs: number;
    /** Mean order-flow events per second per symbol in the calm regime. @default 200 */
    eventsPerSecond: number;
    /** PRNG seed, so a run can be repeated. @default 42 */
    seed: number;
  };
  market: {
    /**
     * The venue whose market data the trader reads: `binance` (combined streams + REST depth snapshots),
     * `coinbase` (Advanced Trade WebSocket) or `kraken` (WebSocket v1). The simulator speaks Binance, so the other
     * venues need `market.wsUrl`. @default 'binance'
     */
    venue: Venue;
    /** The venue's WebSocket URL (Binance: the combined-stream URL `.../stream`); empty uses the simulator. @default '' */
    wsUrl: string;
    /** Binance's REST base URL for depth snapshots (required with a Binance `wsUrl`); empty uses the simulator. @default '' */
    restUrl: string;
    /** Depth snapshot size (the simulator keeps at most 200 levels a side, so 1000 is the whole book). @default 1000 */
    depthLimit: number;
  };
  strategy: {
    /** Size of one order in quote currency (the quantity is this over the mid price). @default 500 */
    orderNotional: number;
    /** Largest position the strategy aims for, in orders of `orderNotional`. @default 2 */
    maxLots: number;
    /** Entries are limit orders at the touch; unfilled ones are cancelled after this long. @default 1000 */
    limitOrderTtlMs: number;
    /** Prediction horizon for labelling the online model. @default 500 */
    horizonMs: number;
    /** Trade when the predicted up-probability is beyond 0.5 ± threshold. @default 0.08 */
    threshold: number;
    /** SGD learning rate. @default 0.05 */
    learningRate: number;
    /** L2 regularization. @default 0.0001 */
    l2: number;
    /** Labelled samples needed before trading. @default 200 */
    warmupSamples: number;
    /** Minimum time between decisions per symbol. @default 50 */
    cooldownMs: number;
  };
  risk: {
    /** Maximum absolute position per symbol in quote currency (notional at the order price). @default 5000 */
    maxPositionNotional: number;
    /** Maximum notional per order. @default 2000 */
    maxNotionalPerOrder: number;
    /** Maximum new orders per second (all symbols). @default 20 */
    maxOrdersPerSecond: number;
    /** Daily loss (realized + unrealized, after fees) that halts new risk. @default 500 */
    dailyLossLimit: number;
    /** Drawdown from the equity peak that switches to REDUCING. @default 300 */
    maxDrawdown: number;
    /**
     * After an operator releases the kill switch, the rule that engaged it stays quiet for at most this long unless
     * its figure grows by `releaseStep` beyond its level at the release (or resets: new equity peak, new UTC day).
     * @default 300000 (5 minutes)
     */
    releaseGraceMs: number;
    /** How far drawdown or the day's loss must grow past its level at a release to re-engage. @default 50 */
    releaseStep: number;
  };
  execution: {
    /** Simulated order latency. @default 2 */
    latencyMs: number;
    /** Maker fee, basis points. @default 1 */
    makerFeeBps: number;
    /** Taker fee, basis points. @default 4 */
    takerFeeBps: number;
    /**
     * Where orders go: `paper` (the in-process simulated venue) or `binance` (Binance spot, live). `binance` also needs
     * the `--live` flag and the API key in the environment (`BINANCE_API_KEY`, and `BINANCE_API_SECRET` or
     * `BINANCE_PRIVATE_KEY_FILE`); without them the trader refuses to start. @default 'paper'
     */
    venue: 'paper' | 'binance';
    /** Set by the `--live` command-line flag only (a file or the environment cannot set it). @default false */
    live: boolean;
    /** Binance live venue; the testnet is `https://testnet.binance.vision` / `wss://ws-api.testnet.binance.vision/ws-api/v3`. */
    binance: {
      /** REST base URL. @default 'https://api.binance.com' */
      restUrl: string;
      /** WebSocket API URL (user data stream). @default 'wss://ws-api.binance.com:443/ws-api/v3' */
      wsApiUrl: string;
      /** `recvWindow` of signed requests, ms. @default 5000 */
      recvWindowMs: number;
    };
  };
  journal: {
    /** Journal file; empty means `<dataDir>/journal.jsonl`. @default '' */
    path: string;
    /** fsync policy: every write, every `fsyncIntervalMs`, or never (the OS decides). @default 'interval' */
    fsync: 'always' | 'interval' | 'never';
    /** Interval for `fsync: 'interval'`. @default 100 */
    fsyncIntervalMs: number;
    /**
     * The journal starts a new segment once the current one holds this many bytes; the new segment begins with a
     * snapshot of the engine's state, so a restart replays only the last segment. 0: one file, never rotated.
     * @default 67108864 (64 MiB)
     */
    segmentBytes: number;
    /**
     * Archived segments kept beside the journal; older ones are deleted once PostgreSQL holds all their entries.
     * 0: keep all. @default 8
     */
    retainSegments: number;
  };
  database: {
    /** PostgreSQL URL (`DATABASE_URL`); empty starts the embedded PGlite. @default '' */
    url: string;
    /** Read replica URLs (`DATABASE_REPLICA_URLS`, comma separated). @default [] */
    replicaUrls: string[];
    /** Embedded PGlite storage: `memory` or `disk` (under `dataDir/pglite`). @default 'disk' */
    embedded: 'memory' | 'disk';
    /** Schema for the trader's tables. @default 'trader' */
    schema: string;
    /**
     * How often the active engine samples the primary's WAL archiving (`pg_stat_archiver`: on, failing, segments
     * not yet archived; the `persistence_wal_archive_*` gauges and the `PostgresWalArchiving*` alerts), ms. 0: never.
     * Not with the embedded PGlite. @default 15000
     */
    archiveCheckMs: number;
  };
  cache: {
    /**
     * Redis URL (`REDIS_URL`): `redis://`, `rediss://`, or through Sentinel
     * `redis+sentinel://[user:password@]host:port[,host:port...]/<primary name>[/<db>]`; empty runs the in-process
     * tier only. The API's shared rate limits use it too. @default ''
     */
    redisUrl: string;
    /** Cache namespace (`[A-Za-z0-9_.-]`). @default 'cryptoscalp.trader' */
    prefix: string;
  };
  bus: {
    /**
     * Redis URL of the event bus between the engine and its gateways (`TRADER_BUS_REDIS_URL`; `redis+sentinel://`
     * as for `cache.redisUrl`); empty uses `cache.redisUrl`. Required for the `engine` and `gateway` roles; the `all` role keeps the bus in process.
     * @default ''
     */
    redisUrl: string;
    /** Key prefix of the event stream, its snapshot and the command streams (`[A-Za-z0-9_.:-]`). @default 'cryptoscalp:trader' */
    key: string;
    /** A gateway's command (kill switch, cancel) fails with 504 when the engine has not answered within this. @default 5000 */
    commandTimeoutMs: number;
    /** How often the engine saves a read-model snapshot beside the stream (new gateways start from it). @default 5000 */
    snapshotIntervalMs: number;
    /** How often book tops, marks and the engine's status are published. @default 250 */
    marketIntervalMs: number;
    /**
     * Redis replicas that must hold an event-stream batch before the engine counts it as durable (Redis `WAIT`).
     * Set it to 1 or more with a Sentinel-managed Redis: an acknowledged entry then survives a failover; 0 trusts the
     * primary alone (asynchronous replication can lose the last acknowledged entries on failover). @default 0
     */
    waitReplicas: number;
  };
  ha: {
    /**
     * Engine active/standby (`TRADER_HA_ENABLED`, role `engine` only): every engine process competes for a lease in
     * PostgreSQL; one is active, the others follow the event stream into their journals and take over when the
     * lease expires. Needs `database.url`. @default false
     */
    enabled: boolean;
    /** Lease lifetime: a standby takes over this long after the active engine's last renewal. @default 2000 */
    leaseTtlMs: number;
    /** How often the active engine renews (and a standby tries to acquire); at most a third of the TTL. @default 500 */
    renewIntervalMs: number;
    /** This process in the lease row; empty: `<host>-<pid>-<random>`. @default '' */
    holderId: string;
    /**
     * How often the active engine journals its strategy's learned state (`strategy.state` entries), which a standby
     * copies with the rest of the journal, so a takeover trades without warming the model up again; 0: never.
     * @default 1000
     */
    strategyStateMs: number;
  };
  http: {
    /** Host for the health and metrics server. @default '127.0.0.1' */
    host: string;
    /** Port for the health and metrics server; 0 picks a free port. @default 9464 */
    port: number;
    /** On shutdown, readiness answers 503 this long before the server closes (load balancers drain). @default 500 */
    shutdownDelayMs: number;
    /**
     * API requests per client address per 10 s window; 0 disables. Behind a proxy every client has the proxy's
     * address: disable it there and let the proxy limit per client (deploy/nginx). @default 1000
     */
    rateLimitPerIp: number;
    /** API requests per token per 10 s window; 0 disables. @default 500 */
    rateLimitPerToken: number;
    /**
     * Open connections (streams included) per client address; beyond it a connection is closed at once. Trusted
     * proxies (`trustProxy`) are exempt; 0 disables. @default 256
     */
    maxConnectionsPerIp: number;
    /**
     * Addresses or CIDRs of the TLS-terminating proxies in front of the server (`TRADER_HTTP_TRUST_PROXY`, comma
     * separated; also proxy-addr's names `loopback`, `linklocal`, `uniquelocal`): their `X-Forwarded-*` headers are
     * believed. In production the API roles need either this or `http.tls`. @default [] (no proxy trusted)
     */
    trustProxy: string[];
    /**
     * HTTPS and WSS (`src/http/tls.ts`): PEM file paths, both or neither; reloaded when the files change. Also
     * `TRADER_HTTP_TLS_CERT` / `TRADER_HTTP_TLS_KEY`. @default both '' (plain HTTP)
     */
    tls: {
      /** Certificate chain, PEM (leaf first). */
      certFile: string;
      /** Private key of the leaf certificate, PEM. */
      keyFile: string;
    };
  };
  alerts: {
    /** A symbol without market data for this long raises `feed-stale`. @default 5000 */
    feedStaleMs: number;
    /**
     * Tick-to-decision p99 budget of `DecisionLatencyBudget`, ms; 0 learns it on this machine: the p99 of the
     * decisions over the first `decisionLatencyCalibrationMs` times `decisionLatencyMargin`. @default 0
     */
    decisionLatencyBudgetMs: number;
    /** The learned budget is the calibration p99 times this. @default 4 */
    decisionLatencyMargin: number;
    /** How long the trader decides before the budget is learned. @default 60000 */
    decisionLatencyCalibrationMs: number;
    /** Slack bot token for notifications; empty disables. @default '' */
    slackToken: string;
    /** Slack channel. @default '' */
    slackChannel: string;
    /** Webhook URL for notifications; empty disables. @default '' */
    webhookUrl: string;
  };
  recording: {
    /**
     * Record every normalized market event the data client delivers (diffs, snapshots, trades, gaps) for
     * `trader backtest`, off the tick path. @default false
     */
    enabled: boolean;
    /** Directory of the recording (`<dir>/<venue>/<symbol>/<YYYY-MM-DD>.csrb`); empty: `<dataDir>/recordings`. @default '' */
    dir: string;
    /** Buffered events are compressed and appended this often (at most this much is lost in a crash). @default 1000 */
    flushIntervalMs: number;
  };
  log: {
    /**
     * How the trader writes its log lines on stdout: `text`, one human-readable line each (`trader: running ...`);
     * `json`, one pino object a line: `level` by name, `time` in epoch ms, `msg` (the same text), `role`, `instance`
     * (`instanceId`) and `pid`, written synchronously, what promtail parses for Loki (the deployments set it). The
     * command's own error lines (configuration error, failed start) go to stderr in the same format.
     * @default 'text'
     */
    format: LogFormat;
    /**
     * Lines below this level are not written (`trace`, `debug`, `info`, `warn`, `error`, `fatal`); they are still
     * counted in `cryptoscalp_log_messages_total{level}`. The start, endpoint, stop and summary lines are `info`:
     * above it, `trader: running` and the summary are not written either (tools that wait for them need `info`).
     * @default 'info'
     */
    level: LogLevel;
  };
}

/** Deep partial of the configuration, as a config file or an override holds it. */
export type PartialConfig = {
  [K in keyof TraderConfig]?: TraderConfig[K] extends unknown[]
    ? TraderConfig[K]
    : TraderConfig[K] extends object
      ? Partial<TraderConfig[K]>
      : TraderConfig[K];
};
