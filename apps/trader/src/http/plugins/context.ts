import type { AuditLog } from '../audit-log.js';
import type { TokenVerifier } from '../auth.js';
import type { SchemaRoute } from '../openapi.js';
import type { ResolvedOptions } from '../options.js';
import type { RouteDef } from '../routes.js';
import type { LiveHub } from '../streams.js';
import type { TraderPort } from '../trader-port.js';
import type { HttpStats, Principal, Role } from '../types.js';

/** Who may call a route: `public`, or the least role. */
export type Access = 'public' | Role;

/** Counters shared by the plugins (read by `stats()`): the server's own figures, without the store, audit and hub ones. */
export type Counters = Omit<HttpStats, 'rateLimitStoreErrors' | 'audit' | 'stream'>;

export function createCounters(): Counters {
  return {
    requests: 0,
    responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    unauthorized: 0,
    forbidden: 0,
    rateLimited: 0,
    shed: 0,
    cacheHits: 0,
    cacheMisses: 0,
    cacheErrors: 0,
    connections: { open: 0, refused: 0, timedOut: 0, clientErrors: 0 },
    upgrades: { refused: 0, timedOut: 0 },
  };
}

/**
 * What every plugin gets: the validated options, the trader port, the shared counters, and the objects built (and
 * so validated) before the server: the audit log and the token verifier.
 */
export interface PluginOptions {
  options: ResolvedOptions;
  trader: TraderPort;
  counters: Counters;
  auditLog: AuditLog;
  verifier: TokenVerifier;
  /** Routes registered with a full schema outside `ROUTES` (auth, users), for the OpenAPI document. */
  schemaRoutes: SchemaRoute[];
}

/** `Retry-After` seconds of a refused hit, `undefined` when allowed; synchronous with the in-memory store. */
export type RateVerdict = number | undefined;

/** Rate-limit checks outside the library's per-IP hook (see `plugins/rate-limit.ts`). */
export interface RateLimits {
  /** Per-IP limit of a raw (upgrade) request's address. */
  ip(address: string): RateVerdict | Promise<RateVerdict>;
  /** Per-token limit, keyed by the token's id. */
  token(tokenId: string): RateVerdict | Promise<RateVerdict>;
  /** The 429 of a refused per-token check: counts it, sets `Retry-After` and `X-RateLimit-*`. */
  tokenRefusal(reply: import('fastify').FastifyReply, retryAfterSec: number): Error;
  /** Shared-store (Redis) failures answered in memory. */
  storeErrors(): number;
}

/** Verifies a token for `what` (audited: first use, failures). @throws ApiError 401 */
export type Authenticate = (
  token: string | undefined,
  ip: string,
  requestId: string,
  what: string,
) => Promise<Principal>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller, on authenticated routes (`null` elsewhere). */
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** The append-only audit log (plugin `audit`). */
    audit: AuditLog;
    /** Rate-limit checks for tokens and stream upgrades (plugin `rate-limit`). */
    rateLimits: RateLimits;
    /** Token verification with auditing (plugin `auth`). */
    authenticate: Authenticate;
    /** Verified tokens remembered (plugin `auth`). */
    authCachedTokens(): number;
    /** The live stream hub (plugin `streams`). */
    hub: LiveHub;
    /** The security headers of API responses and of documents (plugin `security-headers`). */
    securityHeaders: { api: Readonly<Record<string, string>>; document: Readonly<Record<string, string>> };
  }
  interface FastifyContextConfig {
    /** The API route definition (plugin `routes`). */
    def?: RouteDef;
    /** Who may call the route; absent means public. */
    access?: Access;
    /** Health probes: never shed, never rate limited. */
    probe?: boolean;
    /** `/metrics`: the scrape token (`metricsToken`) is accepted besides the role's tokens. */
    scrape?: boolean;
    /** A document (the dashboard): gets the document security headers. */
    document?: boolean;
  }
}
