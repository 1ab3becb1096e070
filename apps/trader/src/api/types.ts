import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { HubBroker } from '@cryptoscalp/ws-manager';
import type { Cluster, Redis } from 'ioredis';
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
}

/** Anything with a pg-compatible `query` (a `pg.Pool`, a `pg.Client`, `@cryptoscalp/db-pool`'s `PoolManager`). */
export interface Queryable {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Token verification settings. Give `secret` (HS256) or `publicKey` (RS256, ES256 or EdDSA), not both. */
export interface AuthOptions {
  /** Shared HMAC secret for HS256, at least 32 bytes. */
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
}

/** Where the audit log is written. */
export interface AuditOptions {
  /** The pool the rows are inserted through. */
  pool: Queryable;
  /** Schema of the `audit_log` table (created if missing). @default 'public' */
  schema?: string;
  /** Rows waiting for a failed database beyond this are dropped (and counted). @default 10000 */
  maxPending?: number;
  /** Retry interval for rows that could not be written. @default 1000 */
  retryIntervalMs?: number;
}

/** A response cache (the trader's `@cryptoscalp/cache` fits through a two-line adapter). */
export interface ApiCache {
  /** Resolves the cached value, or `undefined` on a miss. */
  get(key: string): Promise<unknown>;
  /** Stores `value` for `ttlMs`. */
  set(key: string, value: unknown, ttlMs: number): Promise<unknown> | unknown;
}

/** Rate limits: fixed windows per client IP and per token. */
export interface RateLimitOptions {
  /** Window length. @default 10000 */
  windowMs?: number;
  /** Requests per IP per window (checked before authentication); `0` disables. @default 1000 */
  perIp?: number;
  /** Requests per token per window; `0` disables. @default 500 */
  perToken?: number;
  /** Redis key prefix when a `redis` client is given. @default 'cryptoscalp:trader:rl:' */
  keyPrefix?: string;
}

/** Live stream settings. */
export interface StreamOptions {
  /** Upgrade path. @default '/api/stream' */
  path?: string;
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

/** A node:http request handler (the health package's router fits). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Health and metrics endpoints to mount. */
export interface HealthMount {
  handler: HttpHandler;
  /** Path prefixes routed to the handler (`@cryptoscalp/health`'s handler serves `/health/*`). @default ['/health'] */
  prefixes?: string[];
  /** Paths answered without a token (probes); other paths under the prefixes (status, components, metrics) need `viewer`. @default ['/health', '/health/liveness', '/health/readiness', '/health/startup'] */
  publicPaths?: string[];
}

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  /** Port to listen on; 0 picks a free one. Ignored with `server`. @default 0 */
  port?: number;
  /**
   * Mount on an existing HTTP server instead of listening: give the returned `handler` to that server for the
   * requests it does not serve itself (the trader's `httpFallback`), and stream upgrades on `stream.path` are
   * taken from it. The server stays the caller's: `close()` does not close it. @default none (listen on `port`)
   */
  server?: Server;
  /** Host to bind. @default '127.0.0.1' */
  host?: string;
  /** The running trader. */
  trader: TraderPort;
  /** Token verification. */
  auth: AuthOptions;
  /** Audit log database: a pg-compatible pool, or `{ pool, schema }`. */
  audit: Queryable | AuditOptions;
  /** Response cache for read endpoints. @default none */
  cache?: ApiCache;
  /** Freshness of cached responses. @default 250 */
  cacheTtlMs?: number;
  /** ioredis client: rate limits shared across instances. @default none (in-memory) */
  redis?: Redis | Cluster;
  /** Rate limits. */
  rateLimit?: RateLimitOptions;
  /** Largest request body in bytes (413 beyond). @default 16384 */
  bodyLimit?: number;
  /** Health and metrics handler to mount. @default none */
  health?: HttpHandler | HealthMount;
  /** Live streams. */
  stream?: StreamOptions;
  /** Shares stream topics across API instances (`@cryptoscalp/ws-manager`'s `RedisBroker` fits). @default none */
  streamBroker?: HubBroker;
  /** Serve the dashboard at `/`. @default true */
  dashboard?: boolean;
  /** Trust `X-Forwarded-For` for the client IP (behind a proxy or CDN). @default false */
  trustProxy?: boolean;
  /** Keep-alive timeout of the HTTP server. @default 72000 */
  keepAliveTimeoutMs?: number;
}

/** A running API server. */
export interface ApiServer {
  /** The underlying HTTP server. */
  readonly server: Server;
  /** Base URL, e.g. `http://127.0.0.1:8080` (of the mounting server once it listens, with `server`). */
  readonly url: string;
  /** The request handler (Fastify's router): what a mounting server calls for the API's paths. */
  readonly handler: HttpHandler;
  /** Counters: requests by status class, rate limited, audit writes, stream clients. */
  stats(): ApiStats;
  /** Stops accepting connections, closes streams and flushes the audit log. Idempotent. */
  close(): Promise<void>;
}

/** The API's counters. */
export interface ApiStats {
  requests: number;
  responses: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  unauthorized: number;
  forbidden: number;
  rateLimited: number;
  cacheHits: number;
  cacheMisses: number;
  cacheErrors: number;
  rateLimitStoreErrors: number;
  audit: { written: number; failed: number; pending: number; dropped: number };
  stream: {
    clients: number;
    topics: number;
    published: number;
    delivered: number;
    conflated: number;
    authRejected: number;
  };
}
