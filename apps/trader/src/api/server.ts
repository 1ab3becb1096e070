import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { type FastifyReply, type FastifyRequest, fastify } from 'fastify';
import { AuditLog } from './audit-log.js';
import { bearerToken, TokenVerifier } from './auth.js';
import { ApiError, isApiError } from './errors.js';
import { validateOptions } from './internal/validate-options.js';
import { buildOpenApi } from './openapi.js';
import { MemoryRateLimitStore, RateLimiter, type RateLimitVerdict, RedisRateLimitStore } from './rate-limit.js';
import { roleAtLeast } from './roles.js';
import { ROUTES, type RouteContext, type RouteDef } from './routes.js';
import { etagMatches, loadDashboardAssets, type StaticAsset } from './static-assets.js';
import { bridgeTraderEvents } from './stream-bridge.js';
import { createLiveHub, type HealthCheckResult } from './streams.js';
import type { ApiServer, ApiServerOptions, ApiStats, Principal, Role } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller, on authenticated routes. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The API route definition. */
    def?: RouteDef;
    /** Non-API routes: `public` (dashboard, OpenAPI), `health` (mounted handler). */
    kind?: 'public' | 'health';
  }
}

/** A running API server with its health indicator and a way to publish extra stream topics. */
export interface RunningApiServer extends ApiServer {
  /** Health indicator name. */
  readonly name: 'api';
  /** `warn` while audit rows wait for the database or the hub conflates slow clients. */
  healthCheck(signal?: AbortSignal): Promise<HealthCheckResult>;
  /** Publishes on a stream topic directly (the trader's events are bridged already). */
  publish(topic: string, data: unknown): void;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'";

/**
 * Starts the trader's HTTP API, live streams and dashboard on one port.
 *
 * Order of checks per request: per-IP rate limit, bearer token (401), per-token rate limit, role (403),
 * then body size (413) and schema validation (400), then the handler. Sensitive operations write an audit
 * row for every attempt.
 *
 * @throws ApiError `E_API_INVALID_OPTION` naming the bad field.
 */
export async function createApiServer(options: ApiServerOptions): Promise<RunningApiServer> {
  const o = validateOptions(options);
  const trader = options.trader;
  const verifier = new TokenVerifier(options.auth);
  const audit = new AuditLog(options.audit);
  const cache = options.cache;
  try {
    await audit.init();
  } catch {
    // The database may be down at start: rows queue and `flush` retries the DDL. Health reports `warn`.
    audit.failed++;
  }
  const limiter = new RateLimiter(
    options.redis === undefined
      ? new MemoryRateLimitStore(o.rateLimit.windowMs)
      : new RedisRateLimitStore(options.redis, o.rateLimit.keyPrefix),
    o.rateLimit.windowMs,
  );
  const assets: Map<string, StaticAsset> = o.dashboard ? loadDashboardAssets() : new Map();
  const counters = {
    requests: 0,
    responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    unauthorized: 0,
    forbidden: 0,
    rateLimited: 0,
    cacheHits: 0,
    cacheMisses: 0,
    cacheErrors: 0,
  };
  const authFailureLog = new AuthFailureThrottle();

  const stats = (): ApiStats => {
    const h = hub.stats();
    return {
      ...counters,
      responses: { ...counters.responses },
      rateLimitStoreErrors: limiter.storeErrors,
      audit: { written: audit.written, failed: audit.failed, pending: audit.pending, dropped: audit.dropped },
      stream: h,
    };
  };

  const app = fastify({
    logger: false,
    bodyLimit: o.bodyLimit,
    trustProxy: o.trustProxy,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    requestTimeout: 30_000,
    forceCloseConnections: true,
    return503OnClosing: true,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID();
    },
  });
  app.decorateRequest('principal', null);

  // Query strings and path params are strings on the wire: coerce them. Bodies are JSON: no coercion,
  // so `"60000"` for an integer field is a 400, not a silent conversion.
  const ajvBody = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: false, allErrors: false });
  const ajvQuery = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: 'array', allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const s = schema as Record<string, unknown>;
    const fn = (httpPart === 'body' ? ajvBody : ajvQuery).compile(s);
    if (httpPart !== 'body' || s.$comment !== 'optional-body') return fn;
    const optional = ((data: unknown) => {
      if (data === undefined || data === null) return true;
      const ok = fn(data);
      optional.errors = fn.errors;
      return ok;
    }) as ValidateFunction;
    return optional;
  });

  const clientIp = (req: FastifyRequest): string => req.ip;

  const tooMany = (reply: FastifyReply, v: RateLimitVerdict, scope: string, req: FastifyRequest) => {
    counters.rateLimited++;
    reply
      .code(429)
      .header('retry-after', String(v.retryAfterSec))
      .header('x-ratelimit-limit', String(v.limit))
      .header('x-ratelimit-remaining', '0')
      .send({
        statusCode: 429,
        code: 'E_API_RATE_LIMITED',
        message: `rate limit of ${v.limit} requests per ${o.rateLimit.windowMs} ms per ${scope} exceeded`,
        requestId: req.id,
      });
    return reply;
  };

  const authenticate = async (
    token: string | undefined,
    ip: string,
    requestId: string,
    what: string,
    known?: unknown,
  ): Promise<Principal> => {
    try {
      if (known !== undefined) throw known;
      const cached = verifier.verifyCached(token);
      if (cached !== undefined) return cached;
      const principal = await verifier.verify(token);
      // First use of a token on this instance: the API's "login" (tokens are issued elsewhere).
      void audit.append({
        actor: principal.sub,
        role: principal.role,
        action: 'auth.login',
        outcome: 'success',
        requestId,
        ip,
        detail: { tokenId: principal.tokenId, expires: new Date(principal.exp * 1000).toISOString(), target: what },
      });
      return principal;
    } catch (e) {
      counters.unauthorized++;
      const reason = (e as Error).message;
      const suppressed = authFailureLog.admit(`${ip}|${reason}`);
      if (suppressed !== undefined)
        void audit.append({
          actor: 'anonymous',
          action: 'auth.failure',
          outcome: 'denied',
          requestId,
          ip,
          detail: { reason, target: what, suppressedSinceLast: suppressed },
        });
      throw e;
    }
  };

  const healthPublic = new Set(o.health?.publicPaths ?? []);

  const forbid = (req: FastifyRequest, principal: Principal, need: Role, path: string): never => {
    counters.forbidden++;
    void audit.append({
      actor: principal.sub,
      role: principal.role,
      action: req.routeOptions.config.def?.audit ?? 'auth.forbidden',
      outcome: 'denied',
      requestId: req.id,
      ip: clientIp(req),
      detail: { target: `${req.method} ${path}`, required: need },
    });
    throw new ApiError('E_API_FORBIDDEN', `role ${need} required; the token has role ${principal.role}`);
  };

  /** Per-token limit and role, once the principal is known. Returns true when a 429 was sent. */
  const admit = (
    req: FastifyRequest,
    reply: FastifyReply,
    principal: Principal,
    need: Role,
    path: string,
  ): boolean | Promise<boolean> => {
    const finish = (v: RateLimitVerdict | undefined): boolean => {
      if (v !== undefined && !v.allowed) {
        tooMany(reply, v, 'token', req);
        return true;
      }
      if (!roleAtLeast(principal.role, need)) forbid(req, principal, need, path);
      req.principal = principal;
      return false;
    };
    if (o.rateLimit.perToken === 0) return finish(undefined);
    const v = limiter.check(`tok:${principal.tokenId}`, o.rateLimit.perToken);
    return v instanceof Promise ? v.then(finish) : finish(v);
  };

  /**
   * The per-request gate: IP limit, token, token limit, role. Synchronous when the limits live in memory and
   * the token was verified before (the hot path allocates no promise); returns true when a 429 was sent.
   */
  const gate = (req: FastifyRequest, reply: FastifyReply): boolean | Promise<boolean> => {
    counters.requests++;
    const config = req.routeOptions.config;
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    if (config.kind === 'health' && healthPublic.has(path)) return false;
    const need: Role | null = config.def?.role ?? (config.kind === 'health' ? 'viewer' : null);
    const afterIp = (v: RateLimitVerdict | undefined): boolean | Promise<boolean> => {
      if (v !== undefined && !v.allowed) {
        tooMany(reply, v, 'IP', req);
        return true;
      }
      if (need === null) return false;
      const token = bearerToken(req.headers.authorization);
      let cached: Principal | undefined;
      try {
        cached = verifier.verifyCached(token);
      } catch (e) {
        // Missing or expired token: audited and rejected by `authenticate`.
        return authenticate(token, clientIp(req), req.id, `${req.method} ${path}`, e).then((p) =>
          admit(req, reply, p, need, path),
        );
      }
      if (cached !== undefined) return admit(req, reply, cached, need, path);
      return authenticate(token, clientIp(req), req.id, `${req.method} ${path}`).then((p) =>
        admit(req, reply, p, need, path),
      );
    };
    if (o.rateLimit.perIp === 0) return afterIp(undefined);
    const v = limiter.check(`ip:${clientIp(req)}`, o.rateLimit.perIp);
    return v instanceof Promise ? v.then(afterIp) : afterIp(v);
  };

  app.addHook('onRequest', (req, reply, done) => {
    let result: boolean | Promise<boolean>;
    try {
      result = gate(req, reply);
    } catch (e) {
      done(e as Error);
      return;
    }
    // After a 429 was sent, the request must not continue: `done` is not called (Fastify's early-reply rule).
    if (result === false) done();
    else if (result !== true)
      result.then(
        (sent) => {
          if (!sent) done();
        },
        (e: Error) => done(e),
      );
  });

  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    reply.headers(SECURITY_HEADERS);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });

  app.addHook('onResponse', (_req, reply, done) => {
    const c = reply.statusCode;
    if (c < 300) counters.responses['2xx']++;
    else if (c < 400) counters.responses['3xx']++;
    else if (c < 500) counters.responses['4xx']++;
    else counters.responses['5xx']++;
    done();
  });

  app.setErrorHandler(async (err: unknown, req, reply) => {
    const e = err as Error & {
      validation?: ErrorObject[];
      validationContext?: string;
      statusCode?: number;
      code?: string;
    };
    let status = 500;
    let code = 'E_API_INTERNAL';
    let message = 'internal error';
    let field: string | undefined;
    let auditHere = false;
    if (Array.isArray(e.validation)) {
      status = 400;
      code = 'E_API_BAD_REQUEST';
      ({ field, message } = describeValidation(e.validation, e.validationContext ?? 'body'));
      auditHere = true;
    } else if (isApiError(e)) {
      status = e.status;
      code = e.code;
      message = e.message;
      field = e.field;
    } else if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      code = 'E_API_BODY_TOO_LARGE';
      message = `request body larger than ${o.bodyLimit} bytes`;
      auditHere = true;
    } else if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      // Fastify's own client errors (malformed JSON, unsupported media type): their messages are safe.
      status = e.statusCode;
      code = status === 413 ? 'E_API_BODY_TOO_LARGE' : 'E_API_BAD_REQUEST';
      message = e.message;
      field = 'body';
      auditHere = true;
    }
    const def = req.routeOptions.config.def;
    if (auditHere && def?.audit !== undefined && req.principal !== null)
      await audit.append({
        actor: req.principal.sub,
        role: req.principal.role,
        action: def.audit,
        outcome: 'failure',
        requestId: req.id,
        ip: clientIp(req),
        detail: { status, error: message, ...(field === undefined ? {} : { field }) },
      });
    reply.code(status);
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="cryptoscalp-trader"');
    return { statusCode: status, code, message, ...(field === undefined ? {} : { field }), requestId: req.id };
  });

  app.setNotFoundHandler(async (req, reply) => {
    reply.code(404);
    return {
      statusCode: 404,
      code: 'E_API_NOT_FOUND',
      message: `no route ${req.method} ${req.url.split('?', 1)[0]}`,
      requestId: req.id,
    };
  });

  for (const def of ROUTES) {
    app.route({
      method: def.method,
      url: def.url,
      config: { def },
      schema: {
        ...(def.querystring === undefined ? {} : { querystring: def.querystring }),
        ...(def.params === undefined ? {} : { params: def.params }),
        ...(def.body === undefined ? {} : { body: def.body }),
      },
      handler: async (req, reply) => {
        const principal = req.principal as Principal;
        const ctx: RouteContext = {
          trader,
          principal,
          actor: { sub: principal.sub, role: principal.role },
          params: req.params as Record<string, string>,
          query: req.query as Record<string, unknown>,
          body: req.body,
          audit,
          apiStatus: () => ({ ...stats(), authCachedTokens: verifier.cachedTokens }),
        };
        const cacheKey = cache !== undefined && def.cacheKey !== undefined ? `api:${def.cacheKey}` : undefined;
        if (cacheKey !== undefined) {
          try {
            const hit = await cache?.get(cacheKey);
            if (hit !== undefined && hit !== null) {
              counters.cacheHits++;
              reply.header('x-cache', 'hit');
              return hit;
            }
          } catch {
            counters.cacheErrors++;
          }
        }
        if (def.audit === undefined) {
          const result = await def.handler(ctx);
          if (cacheKey !== undefined) {
            counters.cacheMisses++;
            reply.header('x-cache', 'miss');
            Promise.resolve()
              .then(() => cache?.set(cacheKey, result, o.cacheTtlMs))
              .catch(() => {
                counters.cacheErrors++;
              });
          }
          return result;
        }
        const base = {
          actor: principal.sub,
          role: principal.role,
          action: def.audit,
          requestId: req.id,
          ip: clientIp(req),
        };
        const request = { params: req.params, body: req.body };
        try {
          const result = await def.handler(ctx);
          await audit.append({ ...base, outcome: 'success', detail: { request, result } });
          return result;
        } catch (err) {
          const status = isApiError(err) ? err.status : 500;
          await audit.append({
            ...base,
            outcome: 'failure',
            detail: { request, status, error: (err as Error).message },
          });
          throw err;
        }
      },
    });
  }

  const extras = [
    {
      method: 'GET' as const,
      url: o.stream.path,
      summary: 'Live stream (WebSocket upgrade)',
      description:
        'Authenticate with `Sec-WebSocket-Protocol: bearer, <jwt>` or `?token=<jwt>`. Topics: prices.<SYM>, book.<SYM>, fills, positions, pnl, alerts. See API.md for the protocol.',
      tag: 'streams',
      public: false,
    },
    { method: 'GET' as const, url: '/api/openapi.json', summary: 'This document', tag: 'meta', public: true },
    ...(o.dashboard
      ? [{ method: 'GET' as const, url: '/', summary: 'Dashboard page', tag: 'meta', public: true }]
      : []),
  ];
  const openapiBody = Buffer.from(JSON.stringify(buildOpenApi(ROUTES, extras)));
  const openapiAsset: StaticAsset = {
    body: openapiBody,
    contentType: 'application/json; charset=utf-8',
    etag: `"${(await import('node:crypto')).createHash('sha256').update(openapiBody).digest('hex').slice(0, 16)}"`,
    cacheControl: 'public, max-age=60, must-revalidate',
  };
  const sendAsset = (req: FastifyRequest, reply: FastifyReply, asset: StaticAsset | undefined, csp: boolean) => {
    if (asset === undefined) {
      reply.code(404);
      return { statusCode: 404, code: 'E_API_NOT_FOUND', message: 'no such asset', requestId: req.id };
    }
    reply.header('etag', asset.etag).header('cache-control', asset.cacheControl);
    if (csp) reply.header('content-security-policy', DASHBOARD_CSP);
    if (etagMatches(req.headers['if-none-match'], asset.etag)) return reply.code(304).send();
    return reply.type(asset.contentType).send(asset.body);
  };
  app.get('/api/openapi.json', { config: { kind: 'public' } }, async (req, reply) =>
    sendAsset(req, reply, openapiAsset, false),
  );
  if (o.dashboard) {
    app.get('/', { config: { kind: 'public' } }, async (req, reply) => sendAsset(req, reply, assets.get('/'), true));
    app.get('/index.html', { config: { kind: 'public' } }, async (req, reply) =>
      sendAsset(req, reply, assets.get('/'), true),
    );
    app.get<{ Params: { name: string } }>('/assets/:name', { config: { kind: 'public' } }, async (req, reply) =>
      sendAsset(req, reply, assets.get(`/assets/${req.params.name}`), false),
    );
  }
  if (o.health !== undefined) {
    const { handler } = o.health;
    const mounted = async (req: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.raw.setHeader(k, v);
      reply.raw.setHeader('x-request-id', req.id);
      try {
        await handler(req.raw, reply.raw);
      } catch {
        if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
        reply.raw.end('{"statusCode":500,"code":"E_API_INTERNAL","message":"health handler failed"}');
      }
    };
    for (const prefix of o.health.prefixes) {
      app.route({ method: ['GET', 'HEAD'], url: prefix, config: { kind: 'health' }, handler: mounted });
      app.route({ method: ['GET', 'HEAD'], url: `${prefix}/*`, config: { kind: 'health' }, handler: mounted });
    }
  }

  // Live streams: StreamHub on the same server and port. Every upgrade is authenticated here (same JWT, same
  // rate limits, audited failures); a refused upgrade is a 401 (StreamHub's answer for any refusal).
  const authenticateUpgrade = async (req: IncomingMessage): Promise<Principal | false> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ip = o.trustProxy
      ? String(req.headers['x-forwarded-for'] ?? '')
          .split(',')[0]
          ?.trim() ||
        (req.socket.remoteAddress ?? '')
      : (req.socket.remoteAddress ?? '');
    if (o.rateLimit.perIp > 0 && !(await limiter.check(`ip:${ip}`, o.rateLimit.perIp)).allowed) {
      counters.rateLimited++;
      return false;
    }
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const token =
      protocols[0] === 'bearer' && protocols[1]
        ? protocols[1]
        : (url.searchParams.get('token') ?? bearerToken(req.headers.authorization));
    let principal: Principal;
    try {
      principal = await authenticate(token ?? undefined, ip, randomUUID(), `UPGRADE ${o.stream.path}`);
    } catch {
      return false;
    }
    if (o.rateLimit.perToken > 0 && !(await limiter.check(`tok:${principal.tokenId}`, o.rateLimit.perToken)).allowed) {
      counters.rateLimited++;
      return false;
    }
    return principal;
  };
  const external = options.server;
  const hub = createLiveHub(external ?? app.server, o.stream, authenticateUpgrade, options.streamBroker);
  const bridge = bridgeTraderEvents(trader, hub, o.stream.bookDepth);
  // StreamHub leaves upgrades on other paths alone (the server may be shared): on our own server, refuse them.
  if (external === undefined)
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      if ((req.url ?? '/').split('?', 1)[0] !== o.stream.path) {
        socket.on('error', () => socket.destroy());
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
    });

  try {
    // Mounted: Fastify's own server never listens; the caller's server hands requests to `app.routing`.
    if (external !== undefined) await app.ready();
    else await app.listen({ port: o.port, host: o.host });
  } catch (cause) {
    // Port taken, host not local: release what was set up, then report it as an option error.
    bridge.stop();
    await hub.close();
    await app.close();
    limiter.close();
    await audit.close();
    throw new ApiError('E_API_INVALID_OPTION', `cannot listen on ${o.host}:${o.port}: ${(cause as Error).message}`, {
      field: 'port',
      cause,
    });
  }
  const urlOf = (): string => {
    const address = (external ?? app.server).address();
    if (typeof address !== 'object' || address === null) return '';
    const host = address.address === '::' || address.address === '0.0.0.0' ? o.host : address.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  };
  const fixedUrl = external === undefined ? urlOf() : '';

  let closing: Promise<void> | undefined;
  return {
    name: 'api',
    server: external ?? app.server,
    get url() {
      return external === undefined ? fixedUrl : urlOf();
    },
    handler: app.routing,
    stats,
    publish: (topic, data) => hub.publish(topic, data),
    async healthCheck(): Promise<HealthCheckResult> {
      const time = new Date().toISOString();
      const hubHealth = await hub.healthCheck();
      const problems: string[] = [];
      if (!audit.ready) problems.push('audit table not initialised');
      if (audit.pending > 0) problems.push(`${audit.pending} audit rows waiting for the database`);
      if (audit.dropped > 0) problems.push(`${audit.dropped} audit rows dropped`);
      if (hubHealth.status !== 'pass' && hubHealth.output !== undefined) problems.push(hubHealth.output);
      return {
        status: closing !== undefined ? 'fail' : problems.length > 0 ? 'warn' : 'pass',
        observedValue: hub.stats().clients,
        observedUnit: 'stream clients',
        time,
        ...(problems.length > 0 ? { output: problems.join('; ') } : {}),
        details: { requests: counters.requests, rateLimited: counters.rateLimited },
      };
    },
    close() {
      closing ??= (async () => {
        bridge.stop();
        await hub.close();
        await app.close();
        limiter.close();
        await audit.close();
      })();
      return closing;
    },
  };
}

/** Turns the first ajv error into a field path (`body.mode`, `querystring.limit`) and a readable message. */
function describeValidation(errors: ErrorObject[], context: string): { field: string; message: string } {
  const e = errors[0] as ErrorObject;
  const params = e.params as Record<string, unknown>;
  let field = context + e.instancePath.replace(/\//g, '.');
  let message = `${field} ${e.message ?? 'is invalid'}`;
  if (typeof params.missingProperty === 'string') {
    field = `${field}.${params.missingProperty}`;
    message = `${field} is required`;
  } else if (typeof params.additionalProperty === 'string') {
    field = `${field}.${params.additionalProperty}`;
    message = `${field} is not an accepted field`;
  } else if (e.keyword === 'propertyNames' && typeof params.propertyName === 'string') {
    field = `${field}.${params.propertyName}`;
    message = `${field} is not a valid name`;
  } else if (Array.isArray(params.allowedValues)) {
    message = `${field} must be one of ${params.allowedValues.join(', ')}`;
  }
  return { field, message };
}

/**
 * Writes at most one `auth.failure` row per (IP, reason) per 10 s, so a client hammering with a bad token
 * cannot flood the audit table; the next row carries the number suppressed meanwhile.
 */
class AuthFailureThrottle {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  /** Returns the number suppressed since the last admitted row, or `undefined` to suppress this one. */
  admit(key: string): number | undefined {
    const now = Date.now();
    const e = this.#last.get(key);
    if (e !== undefined && now - e.at < 10_000) {
      e.suppressed++;
      return undefined;
    }
    if (this.#last.size > 10_000) this.#last.clear();
    this.#last.set(key, { at: now, suppressed: 0 });
    return e?.suppressed ?? 0;
  }
}
