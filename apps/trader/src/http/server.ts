import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import { type FastifyHttpOptions, fastify } from 'fastify';
import { AuditLog } from './audit-log.js';
import { TokenVerifier } from './auth.js';
import { ApiError } from './errors.js';
import type { SchemaRoute } from './openapi.js';
import { validateOptions } from './options.js';
import audit from './plugins/audit.js';
import auth from './plugins/auth.js';
import authRoutes from './plugins/auth-routes.js';
import connectionLimits from './plugins/connection-limits.js';
import { createCounters, type PluginOptions } from './plugins/context.js';
import errors from './plugins/errors.js';
import health from './plugins/health.js';
import loadShedding from './plugins/load-shedding.js';
import openapi from './plugins/openapi.js';
import rateLimit from './plugins/rate-limit.js';
import requestStats from './plugins/request-stats.js';
import routes from './plugins/routes.js';
import securityHeaders from './plugins/security-headers.js';
import staticAssets from './plugins/static-assets.js';
import streams from './plugins/streams.js';
import { TlsFiles } from './tls.js';
import type { HealthCheckResult, HttpServerOptions, HttpStats, RunningHttpServer } from './types.js';

/**
 * Starts the trader's one HTTP server (Fastify, listening itself): `/api/*`, the live streams on `stream.path`, the
 * dashboard, `/health/*` and `/metrics`, over HTTPS and WSS with `tls` (`src/http/tls.ts`). It depends on the trader
 * only through `options.trader` (a `TraderPort`).
 *
 * The server is a stack of plugins, one concept each (`src/http/plugins/`), registered in this order:
 * request stats, load shedding, security headers, audit, rate limit, auth, errors, routes, OpenAPI, static assets,
 * health + metrics, streams, connection limits (socket level). Per connection: the per-IP cap (closed), header and request timeouts (408).
 * Per request: shedding (503), per-IP limit (429), token (401), per-token limit (429), role (403), body size (413),
 * schema (400), handler; sensitive operations write an audit row for every attempt.
 *
 * @throws ApiError `E_API_INVALID_OPTION` naming the bad field (unknown keys too, unreadable or mismatched `tls`
 * files), or `port` when it cannot listen.
 */
export async function createHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const o = validateOptions(options);
  const tls = options.tls === undefined ? undefined : new TlsFiles(options.tls);
  // Built before the server so their own option checks (auth.*, audit.*) throw here, naming the field.
  const verifier = new TokenVerifier(options.auth);
  const auditLog = new AuditLog(options.audit);
  const counters = createCounters();

  // Slow clients (slowloris): the headers must arrive within `headersTimeoutMs` of the connection (the TLS handshake
  // within the same time) and the whole request within `requestTimeoutMs`; Node answers 408 and closes. Node checks
  // these every `connectionsCheckingInterval` (30 s by default, which would let a timeout run 30 s late).
  const timeouts = {
    headersTimeout: o.headersTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, o.headersTimeoutMs),
  };
  // With `https`, Fastify builds a node:https server; the plugins only use what node:http and node:https share.
  const app = fastify({
    ...(tls === undefined
      ? { http: timeouts }
      : { https: { ...tls.serverOptions(), ...timeouts, handshakeTimeout: o.headersTimeoutMs } }),
    logger: false,
    bodyLimit: o.bodyLimit,
    trustProxy: o.trustProxy,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    // In-flight requests finish on close (bounded by `drainTimeoutMs`); idle keep-alive sockets close at once.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID();
    },
  } as FastifyHttpOptions<Server>);

  const stats = (): HttpStats => ({
    ...counters,
    responses: { ...counters.responses },
    connections: { ...counters.connections },
    upgrades: { ...counters.upgrades },
    rateLimitStoreErrors: app.hasDecorator('rateLimits') ? app.rateLimits.storeErrors() : 0,
    audit: {
      written: auditLog.written,
      failed: auditLog.failed,
      pending: auditLog.pending,
      dropped: auditLog.dropped,
      deadLettered: auditLog.deadLettered,
    },
    stream: app.hasDecorator('hub')
      ? app.hub.stats()
      : { clients: 0, topics: 0, published: 0, delivered: 0, conflated: 0, authRejected: 0 },
    ...(tls === undefined ? {} : { tls: tls.stats() }),
  });
  const schemaRoutes: SchemaRoute[] = [];
  const base: PluginOptions = { options: o, trader: options.trader, counters, auditLog, verifier, schemaRoutes };
  // Routes with a full schema outside the ROUTES table (auth, users) are documented from that schema.
  app.addHook('onRoute', (route) => {
    const tags = (route.schema as { tags?: unknown } | undefined)?.tags;
    if (!Array.isArray(tags) || !tags.some((t) => t === 'auth' || t === 'users')) return;
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      if (method === 'HEAD') continue;
      schemaRoutes.push({
        method,
        url: route.url,
        access: (route.config as { access?: string } | undefined)?.access,
        schema: route.schema as SchemaRoute['schema'],
      });
    }
  });
  try {
    await app.register(requestStats, base);
    await app.register(loadShedding, base);
    await app.register(securityHeaders, base);
    await app.register(audit, base);
    await app.register(rateLimit, { ...base, redis: options.redis });
    await app.register(auth, base);
    await app.register(errors, base);
    await app.register(routes, { ...base, cache: options.cache, stats });
    await app.register(authRoutes, { ...base, sessions: options.sessions, auth: options.auth, redis: options.redis });
    await app.register(openapi, base);
    await app.register(staticAssets, base);
    await app.register(health, base);
    await app.register(streams, base);
    // Socket-level: it only has to be attached before `listen`.
    await app.register(connectionLimits, base);
  } catch (e) {
    await app.close().catch(() => {});
    throw e;
  }

  try {
    await app.listen({ port: o.port, host: o.host });
  } catch (cause) {
    // Port taken, host not local: release what was set up (hub, audit), then report it as an option error.
    await app.close().catch(() => {});
    throw new ApiError('E_API_INVALID_OPTION', `cannot listen on ${o.host}:${o.port}: ${(cause as Error).message}`, {
      field: 'port',
      cause,
    });
  }
  const address = app.server.address();
  const host =
    typeof address === 'object' && address !== null && address.address !== '::' && address.address !== '0.0.0.0'
      ? address.address
      : o.host;
  tls?.watch(app.server as unknown as TlsServer);
  const url = `${tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address !== null ? address.port : o.port}`;

  let closing: Promise<void> | undefined;
  return {
    name: 'http',
    url,
    server: app.server,
    stats,
    publish: (topic, data, publishOptions) => app.hub.publish(topic, data, publishOptions),
    async healthCheck(): Promise<HealthCheckResult> {
      const time = new Date().toISOString();
      const hubHealth = await app.hub.healthCheck();
      const problems: string[] = [];
      if (!auditLog.ready) problems.push('audit table not initialised');
      if (auditLog.pending > 0) problems.push(`${auditLog.pending} audit rows waiting for the database`);
      if (auditLog.dropped > 0) problems.push(`${auditLog.dropped} audit rows dropped`);
      if (auditLog.deadLettered > 0) problems.push(`${auditLog.deadLettered} audit rows in the dead-letter file`);
      if (o.loadShedding !== false && app.isUnderPressure()) problems.push('shedding load');
      if (hubHealth.status !== 'pass' && hubHealth.output !== undefined) problems.push(hubHealth.output);
      return {
        status: closing !== undefined ? 'fail' : problems.length > 0 ? 'warn' : 'pass',
        observedValue: app.hub.stats().clients,
        observedUnit: 'stream clients',
        time,
        ...(problems.length > 0 ? { output: problems.join('; ') } : {}),
        details: { requests: counters.requests, rateLimited: counters.rateLimited, shed: counters.shed },
      };
    },
    close() {
      closing ??= (async () => {
        tls?.close();
        // preClose closes the streams (1001); then the server stops accepting and requests in flight finish.
        const drained = app.close();
        const timer = setTimeout(() => app.server.closeAllConnections(), o.drainTimeoutMs);
        timer.unref();
        try {
          await drained;
        } finally {
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}
