import type { KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import type { HealthRegistry } from '@cryptoscalp/health';
import type { HubBroker } from '@cryptoscalp/ws-manager';
import type { Cluster, Redis } from 'ioredis';
import type { Log } from '../internal/log.js';
import type { HealthCheckResult } from '../model/health.js';
import type { HubStats } from './streams.js';
import type { TlsOptions, TlsStats } from './tls.js';
import type { TraderPort } from './trader-port.js';

/** Roles, from least to most privileged: `viewer` reads, `trader` changes orders and parameters, `admin` steers risk. */
export type Role = 'viewer' | 'trader' | 'admin';

/** The authenticated caller, from a verified token. */
export interface Principal {
  /** The token's subject (`sub`). */
  readonly sub: string;
  readonly role: Role;
  /** Expiry, epoch seconds. */
  readonly exp: number;
  /** A short, non-secret id of the token (first 16 hex chars of its SHA-256), the per-token rate-limit key. */
  readonly tokenId: string;
  /** The session of a person's access token (`sid` claim): checked against the revocation list on every request. */
  readonly sid?: string;
}

/** Anything with a pg-compatible `query` (a `pg.Pool`, a `pg.Client`, `@cryptoscalp/db-pool`'s `PoolManager`). */
export interface Queryable {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Token verification settings. Give `secret` (HS256) or `publicKey` (RS256, ES256 or EdDSA), not both. */
export interface AuthOptions {
  /** Shared HMAC secret for HS256: at least 32 bytes and about 96 bits of estimated entropy (`secretProblem`). */
  secret?: string | Uint8Array;
  /** Public key (PEM SPKI string or `KeyObject`) for RS256 / ES256 / EdDSA tokens. */
  publicKey?: string | KeyObject;
  /** Required `iss` claim. @default 'cryptoscalp-trader' */
  issuer?: string;
  /** Required `aud` claim. @default 'cryptoscalp-api' */
  audience?: string;
  /** Allowed clock skew for `exp`/`nbf`, seconds. @default 5 */
  clockToleranceSec?: number;
  /** Verified tokens remembered (until their expiry) so a hot client does not pay a signature check per request. @default 10000 */
  cacheSize?: number;
  /** Tokens living longer than this (`exp - iat`, or `exp - now` without `iat`) are refused (401). @default 2592000 (30 days) */
  maxLifetimeSec?: number;
}

/** Where the audit log is written. */
export interface AuditOptions {
  /** The pool the rows are inserted through (not closed by the server). */
  pool: Queryable;
  /** Schema of the `audit_log` table (created if missing). @default 'public' */
  schema?: string;
  /** Rows waiting for a failed database beyond this are dropped (and counted). @default 10000 */
  maxPending?: number;
  /** Retry interval for rows that could not be written. @default 1000 */
  retryIntervalMs?: number;
  /**
   * JSON-lines file that receives the rows the table could not take: refused for their data, beyond `maxPending`,
   * or still queued at close (created with mode 0600). @default none (such rows are dropped, counted and logged)
   */
  deadLetterPath?: string;
  /** Where the audit log reports set-aside and dropped rows. @default console.error */
  log?: Log;
}

/** A response cache; `@cryptoscalp/cache`'s `CacheManager` fits as it is. */
export interface ApiCache {
  /** Resolves the cached value, or `undefined` on a miss. */
  get(key: string): Promise<unknown>;
  /** Stores `value` for `options.ttlMs` milliseconds. */
  set(key: string, value: unknown, options: { ttlMs: number }): Promise<unknown> | unknown;
}

/**
 * Rate limits (`@fastify/rate-limit`): fixed windows per client IP (every route but the probes, before
 * authentication) and per token (authenticated routes and stream upgrades, after the signature check).
 */
export interface RateLimitOptions {
  /** Window length; a key's window starts at its first hit. @default 10000 */
  windowMs?: number;
  /** Requests per IP per window; `0` disables. @default 1000 */
  perIp?: number;
  /** Requests per token per window; `0` disables. @default 500 */
  perToken?: number;
  /** Redis key prefix when a `redis` client is given. @default 'cryptoscalp:trader:rl:' */
  keyPrefix?: string;
  /** A Redis call slower than this (or failing) is counted in memory instead. @default 250 */
  storeTimeoutMs?: number;
  /** Keys kept by the in-memory store (LRU); an evicted key starts a fresh window. @default 100000 */
  memoryKeys?: number;
}

/**
 * Load shedding (`@fastify/under-pressure`): while a threshold is exceeded, every request except the
 * liveness, readiness and startup probes is answered 503 with `Retry-After`, and stream upgrades too.
 * Sampled every `sampleIntervalMs`. A threshold of `0` is not checked.
 */
export interface LoadSheddingOptions {
  /** Mean event-loop delay over the last sample, ms. @default 1000 */
  maxEventLoopDelayMs?: number;
  /** `process.memoryUsage().heapUsed` bytes. @default 90 % of the V8 heap size limit */
  maxHeapUsedBytes?: number;
  /** Resident set size bytes. @default 0 (not checked) */
  maxRssBytes?: number;
  /** Event-loop utilization, 0..1. @default 0 (not checked) */
  maxEventLoopUtilization?: number;
  /** `Retry-After` of a shed request, seconds. @default 10 */
  retryAfterSec?: number;
  /** How often the figures are sampled, at least 100 ms. @default 1000 */
  sampleIntervalMs?: number;
}

/** Live stream settings. */
export interface StreamOptions {
  /** Upgrade path. @default '/api/stream' */
  path?: string;
  /**
   * Origins (`https://ops.example.com`) whose pages may open the stream besides the server's own (same host as the
   * request's `Host`). Upgrades from browsers on other origins are refused 403. @default [] (same origin only)
   */
  allowedOrigins?: string[];
  /**
   * Stream epoch given to the hub (`StreamHubOptions.epoch`): gateways that share the trader's durable log
   * offsets use the same epoch, so a client resumes on any of them. @default the hub's own (random per start)
   */
  epoch?: string;
  /** Shares stream topics across API instances (`@cryptoscalp/ws-manager`'s `RedisBroker` fits). @default none */
  broker?: HubBroker;
  /** Bytes queued in a client's socket before its updates are conflated (latest per topic). @default 1048576 */
  maxBufferedBytes?: number;
  /** Messages kept per topic so a reconnecting client resumes from its last offset. @default 1000 */
  historySize?: number;
  /** Levels per side on `book.<sym>` topics. @default 10 */
  bookDepth?: number;
  /** Ping interval; clients that miss a pong are closed. `0` disables. @default 30000 */
  heartbeatIntervalMs?: number;
  /** Topics one client may subscribe to. @default 100 */
  maxTopicsPerClient?: number;
  /** Largest inbound client message in bytes. @default 4096 */
  maxMessageBytes?: number;
  /** Check interval for conflated clients whose sockets drained. @default 25 */
  flushIntervalMs?: number;
}

/** `@cryptoscalp/health` on the same server. */
export interface HealthOptions {
  /** The registry whose probes and details are served under `/health`. */
  registry: HealthRegistry;
  /**
   * Paths answered without a token, never rate limited or shed; other `/health/*` paths (status, components,
   * alerts) need `viewer`. @default ['/health', '/health/liveness', '/health/readiness', '/health/startup']
   */
  publicPaths?: string[];
  /** Source of `/health/alerts` (recent alert events). @default none (404) */
  alerts?: () => unknown;
}

/** The Prometheus exposition for `GET /metrics`. */
export type MetricsSource = () => Promise<{ contentType: string; body: string }>;

/** Options of {@link createHttpServer}. Unknown keys are refused, like bad values. */
export interface HttpServerOptions {
  /** The running trader: the only thing of the trader the server depends on. */
  trader: TraderPort;
  /** Host to bind. @default '127.0.0.1' */
  host?: string;
  /** Port to listen on; `0` picks a free one. @default 0 */
  port?: number;
  /** Token verification. */
  auth: AuthOptions;
  /** Audit log database. */
  audit: AuditOptions;
  /** ioredis client: rate-limit counters shared across gateway instances. Not closed by the server. @default none (in memory) */
  redis?: Redis | Cluster;
  /**
   * People login (`/api/auth/*`, `/api/users`): users, sessions and refresh tokens in the audit schema; revocations
   * shared through `redis` when given, else PostgreSQL. @default none (the routes answer 404)
   */
  sessions?: import('./users/options.js').SessionOptions;
  /** Rate limits. */
  rateLimit?: RateLimitOptions;
  /** Load shedding; `false` turns it off. */
  loadShedding?: LoadSheddingOptions | false;
  /** Health probes and details at `/health/*`. @default none */
  health?: HealthOptions;
  /** `GET /metrics` (a token of any role, or `metricsToken`). @default none (404) */
  metrics?: MetricsSource;
  /**
   * A bearer token accepted by `GET /metrics` only (compared in constant time), for Prometheus; as strong as a JWT
   * secret (`secretProblem`). @default none
   */
  metricsToken?: string;
  /**
   * Concurrent scrapes share one rendering of `metrics`, and a rendering younger than this is served again, so a
   * flood of scrapes costs at most one rendering per interval on the event loop. `0`: share in-flight ones only.
   * @default 1000
   */
  metricsMaxAgeMs?: number;
  /** `/metrics` scrapes answered per second, all callers together; the rest get 429 + `Retry-After: 1`. `0`: no limit. @default 10 */
  metricsMaxPerSecond?: number;
  /** Live streams. */
  stream?: StreamOptions;
  /** Response cache for read endpoints. @default none */
  cache?: ApiCache;
  /** Freshness of cached responses. @default 250 */
  cacheTtlMs?: number;
  /** Serve the dashboard at `/`. @default true */
  dashboard?: boolean;
  /**
   * Client IP from `X-Forwarded-For`: `true` trusts every hop, a string or list of addresses/CIDRs
   * (`'10.0.0.0/8'`, `'loopback'`) trusts those proxies. @default false
   */
  trustProxy?: boolean | string | string[];
  /** Largest request body in bytes (413 beyond). @default 16384 */
  bodyLimit?: number;
  /** Keep-alive timeout of the HTTP server. @default 72000 */
  keepAliveTimeoutMs?: number;
  /** `close()` waits this long for requests in flight, then destroys their connections. @default 10000 */
  drainTimeoutMs?: number;
  /**
   * Open connections (streams included) per client address; a connection beyond it is closed at once and counted
   * (`stats().connections.refused`). Addresses of trusted proxies (`trustProxy`) are exempt; 0 turns the cap off.
   * @default 256
   */
  maxConnectionsPerIp?: number;
  /** Time from connect to the end of the request headers (TLS handshake included); 408 and close beyond. @default 10000 */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, body included; 408 and close beyond. @default 30000 */
  requestTimeoutMs?: number;
  /** Time a stream upgrade may take to be authenticated and answered; 503 and close beyond. @default 10000 */
  upgradeTimeoutMs?: number;
  /**
   * HTTPS and WSS from PEM files, reloaded when they change (`TlsFiles`): TLS 1.2/1.3, forward-secret AEAD ciphers,
   * and `Strict-Transport-Security` on every response. @default none (plain HTTP)
   */
  tls?: TlsOptions;
}

/** Health result, in the suite's structural contract shape. */
export type { HealthCheckResult } from '../model/health.js';

/** The running server. */
export interface RunningHttpServer {
  /** Health indicator name. */
  readonly name: 'http';
  /** Base URL, e.g. `http://127.0.0.1:8080` (`https://` with `tls`). */
  readonly url: string;
  /** The underlying node:http server (Fastify's; a node:https one with `tls`), e.g. for `HealthRegistry.attach`. */
  readonly server: Server;
  /** Counters: requests by status class, 401/403/429/503, audit writes, stream clients. */
  stats(): HttpStats;
  /** `warn` while audit rows wait for the database, the hub conflates or requests are shed; `fail` once closing. */
  healthCheck(signal?: AbortSignal): Promise<HealthCheckResult>;
  /** Publishes on a stream topic directly (the trader's events are bridged already). */
  publish(topic: string, data: unknown, options?: { offset?: number }): void;
  /** Closes the streams (1001), stops accepting, drains requests in flight, flushes the audit queue. Idempotent. */
  close(): Promise<void>;
}

/** The server's counters. */
export interface HttpStats {
  requests: number;
  responses: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  unauthorized: number;
  forbidden: number;
  rateLimited: number;
  /** Requests and upgrades refused with 503 by load shedding. */
  shed: number;
  cacheHits: number;
  cacheMisses: number;
  cacheErrors: number;
  /** Rate-limit store (Redis) failures answered by the in-memory fallback. */
  rateLimitStoreErrors: number;
  /** Audit rows written, failed attempts, waiting, lost, and set aside in the dead-letter file. */
  audit: { written: number; failed: number; pending: number; dropped: number; deadLettered: number };
  stream: HubStats;
  /** Certificate reloads and expiry, with `tls`. */
  tls?: TlsStats;
  /**
   * Connections: open now, closed at once over `maxConnectionsPerIp`, closed by the header or request timeout, and
   * other malformed requests Node refused (bad headers, headers too large).
   */
  connections: { open: number; refused: number; timedOut: number; clientErrors: number };
  /** Upgrades to paths other than the stream (404) or over the per-IP limit (429), and upgrades over `upgradeTimeoutMs`. */
  upgrades: { refused: number; timedOut: number };
}
