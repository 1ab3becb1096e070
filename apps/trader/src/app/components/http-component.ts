import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import type { TraderConfig } from '../../config/config-types.js';
import { createRedisClient } from '../../config/redis-url.js';
import { TraderError } from '../../errors.js';
import { createHttpServer } from '../../http/server.js';
import { issueToken } from '../../http/tokens.js';
import type { RunningHttpServer } from '../../http/types.js';
import type { Log } from '../../internal/log.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import type { KeyEncryptionKey } from '../../security/kek.js';
import { developmentKek } from '../../security/kek-source.js';
import type { ReadModelPort } from '../read-model-port.js';
import type { CacheComponent } from './cache-component.js';
import type { HealthComponent } from './health-component.js';
import type { ObservabilityComponent } from './observability-component.js';
import type { PostgresComponent } from './postgres-component.js';

/** Options of {@link HttpComponent}. */
export interface HttpComponentOptions {
  config: TraderConfig;
  /** HS256 secret of the API's tokens; empty makes a random one for this run and issues a local admin token. */
  secret: string;
  /** Bearer token accepted by `/metrics` only (Prometheus); empty: none. */
  metricsToken?: string;
  /** KEK of encryption at rest (TOTP secrets). @default the development KEK in the data directory (`kek.key`) */
  kek?: KeyEncryptionKey;
  /** KEKs being replaced (unwrap only). @default [] */
  previousKeks?: KeyEncryptionKey[];
  /** The stream epoch (the event stream's), so every gateway numbers live events alike. */
  epoch: () => string;
  port: () => ReadModelPort;
  postgres: PostgresComponent;
  cache: CacheComponent;
  health: HealthComponent;
  observability: ObservabilityComponent;
  /** The trader's counted log: the audit log's set-aside rows and the certificate reloads go to it (in `log.format`). */
  log: Log;
}

/**
 * The one HTTP server of the process (Fastify): `/health/*`, `/metrics`, `/api/*`, the live streams and the
 * dashboard, all reading the trader through the read-model port. Owns the Redis client of the shared rate limits.
 */
export class HttpComponent implements Component {
  readonly name = 'http';
  readonly critical = false;
  #server: RunningHttpServer | undefined;
  #redis: Redis | undefined;
  #redisErrors = 0;
  /** An admin token for this run's dashboard (15 minutes), when no secret was configured. */
  localAdminToken: string | undefined;

  constructor(private readonly options: HttpComponentOptions) {}

  async start(): Promise<void> {
    const { config } = this.options;
    const secret = this.options.secret || randomBytes(32).toString('hex');
    // Audit rows the database cannot take are kept beside the journal (`audit.deadLetterPath`).
    mkdirSync(config.dataDir, { recursive: true });
    if (config.cache.redisUrl) {
      this.#redis = createRedisClient(config.cache.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
      // Counted, never thrown: rate limits fall back per the API's policy while Redis is away.
      this.#redis.on('error', () => {
        this.#redisErrors++;
      });
    }
    this.#server = await createHttpServer({
      trader: this.options.port(),
      host: config.http.host,
      port: config.http.port,
      auth: { secret },
      audit: {
        pool: this.options.postgres.pool(),
        schema: config.database.schema,
        deadLetterPath: resolve(config.dataDir, 'audit-dead-letter.jsonl'),
        log: this.options.log,
      },
      ...(this.options.metricsToken ? { metricsToken: this.options.metricsToken } : {}),
      ...(this.#redis === undefined ? {} : { redis: this.#redis }),
      // People login (`/api/auth/*`, `/api/users`) with the API's defaults; revocations shared through Redis when set.
      sessions: {
        kek: this.options.kek ?? developmentKek(config.dataDir).kek,
        ...(this.options.previousKeks?.length ? { previousKeks: this.options.previousKeks } : {}),
      },
      health: { registry: this.options.health.registry, alerts: () => this.options.observability.activeAlerts() },
      metrics: () => this.options.observability.metrics(),
      stream: { epoch: this.options.epoch() },
      rateLimit: { perIp: config.http.rateLimitPerIp, perToken: config.http.rateLimitPerToken },
      maxConnectionsPerIp: config.http.maxConnectionsPerIp,
      ...(config.http.trustProxy.length > 0 ? { trustProxy: [...config.http.trustProxy] } : {}),
      ...(config.http.tls.certFile === '' ? {} : { tls: { ...config.http.tls, log: this.options.log } }),
      cache: this.options.cache.cache(),
    });
    if (!this.options.secret)
      this.localAdminToken = await issueToken({ sub: 'local', role: 'admin', secret, ttl: '15m' });
  }

  /** The base URL. */
  url(): string {
    if (this.#server === undefined) throw new TraderError('E_TRADER_INVALID_OPTION', 'http is not started');
    return this.#server.url;
  }

  async healthCheck(): Promise<ComponentHealth> {
    if (this.#server === undefined) return { status: 'fail', output: 'not started' };
    return this.#server.healthCheck();
  }

  stats(): Record<string, unknown> {
    return { ...(this.#server?.stats() ?? {}), redisErrors: this.#redisErrors };
  }

  async stop(): Promise<void> {
    await this.#server?.close();
    this.#redis?.disconnect();
  }
}
