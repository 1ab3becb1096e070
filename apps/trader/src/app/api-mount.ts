import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Redis } from 'ioredis';
import {
  alertsFromAlertManager,
  createApiServer,
  createEnginePort,
  type EnginePort,
  issueToken,
  type RunningApiServer,
} from '../http/index.js';
import type { TraderApp } from './trader-app.js';

/** Options for {@link TraderApiMount.start}. */
export interface TraderApiMountOptions {
  /**
   * HS256 secret for the API's JWTs (`TRADER_JWT_SECRET`). When empty a random one is made for this run, and
   * an admin token for the dashboard is issued and returned as `localAdminToken`.
   */
  secret?: string;
  /** Redis URL for rate limits shared across instances; empty keeps them in memory. */
  redisUrl?: string;
}

/**
 * Mounts the HTTP API, the live streams and the dashboard (`src/api`) on the trader's own HTTP server, beside the
 * health endpoints. Create it before the app so its `fallback` can be handed to `TraderApp`, then `start` it once the
 * app runs:
 *
 * ```ts
 * const mount = new TraderApiMount();
 * const app = new TraderApp({ config, httpFallback: mount.fallback });
 * await app.start();
 * await mount.start(app, { secret: process.env.TRADER_JWT_SECRET });
 * ...
 * await mount.close(); await app.stop('done');
 * ```
 */
export class TraderApiMount {
  /** The running API server, once started. */
  api: RunningApiServer | undefined;
  /** The port the API reads the running engine through. */
  port: EnginePort | undefined;
  /** An admin token for this run's dashboard, when no secret was configured. */
  localAdminToken: string | undefined;
  #redis: Redis | undefined;
  #closed = false;

  /** Hand this to `TraderApp`'s `httpFallback`: requests outside /health go to the API (503 until it runs). */
  readonly fallback = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.api) this.api.handler(req, res);
    else res.writeHead(503, { 'content-type': 'text/plain' }).end('starting');
  };

  /** Starts the API on `app.server`, with the audit log in the trader's database and the API in its health checks. */
  async start(app: TraderApp, options: TraderApiMountOptions = {}): Promise<RunningApiServer> {
    const config = app.config;
    this.port = createEnginePort({
      engine: app.engine,
      alerts: alertsFromAlertManager(app.observability.monitoring.alerts),
      components: async () =>
        (await app.health.results()).map(({ runner, record }) => ({
          name: runner.indicator.name,
          status: record.status,
          ...(record.entry.output === undefined ? {} : { output: record.entry.output }),
        })),
    });
    const secret = options.secret || randomBytes(32).toString('hex');
    if (options.redisUrl) this.#redis = new Redis(options.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
    // The audit log shares the trader's PoolManager: with embedded PGlite that is one connection (one session),
    // so audit writes never interleave with the journal writer's transactions.
    this.api = await createApiServer({
      server: app.server,
      trader: this.port,
      auth: { secret },
      audit: { pool: app.db, schema: config.database.schema },
      ...(this.#redis ? { redis: this.#redis } : {}),
    });
    app.health.register(this.api);
    if (!options.secret) this.localAdminToken = await issueToken({ sub: 'local', role: 'admin', secret, ttl: '12h' });
    return this.api;
  }

  /** Stops the API and its streams. Idempotent; call before `app.stop()`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.api?.close();
    this.port?.close();
    this.#redis?.disconnect();
  }
}
