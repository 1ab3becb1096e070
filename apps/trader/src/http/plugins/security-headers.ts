import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import { HSTS_HEADER } from '../tls.js';
import type { PluginOptions } from './context.js';

/** The dashboard page's Content-Security-Policy: same-origin scripts, styles and WebSocket, no framing. */
export const DASHBOARD_CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  // 'self' covers the page's own ws:/wss: origin (CSP Level 3); `ws: wss:` would allow any host.
  connectSrc: ["'self'"],
  frameAncestors: ["'none'"],
};

/** Helmet's options this server never wants: HSTS is added by the plugin when it serves TLS; the rest only legacy clients read. */
const COMMON: HelmetOptions = {
  frameguard: { action: 'deny' },
  strictTransportSecurity: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

/**
 * Documents (the dashboard page and its assets): the strict dashboard CSP, `X-Frame-Options: DENY`,
 * `Referrer-Policy: no-referrer`, and helmet's document defaults (`nosniff`, COOP/CORP `same-origin`,
 * `Origin-Agent-Cluster`).
 */
export const DOCUMENT_HELMET_OPTIONS: HelmetOptions = {
  ...COMMON,
  contentSecurityPolicy: { useDefaults: false, directives: DASHBOARD_CSP_DIRECTIVES },
  referrerPolicy: { policy: 'no-referrer' },
};

/**
 * Everything else (API JSON, errors, health, metrics, OpenAPI), per the OWASP REST security headers:
 * `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`, `X-Frame-Options: DENY`,
 * `X-Content-Type-Options: nosniff`, `Cross-Origin-Resource-Policy: same-origin`. The document-only headers
 * (Referrer-Policy, COOP, Origin-Agent-Cluster) do nothing on a JSON response and each costs ~1 µs in node:http.
 */
export const API_HELMET_OPTIONS: HelmetOptions = {
  ...COMMON,
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  referrerPolicy: false,
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
};

/** The headers `helmet(options)` sets, computed once by running its middleware against a recorder. */
export function helmetHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as never, recorder as never, () => {});
  return Object.freeze(headers);
}

/**
 * Security headers from `helmet`, applied from precomputed sets (routes with `config.document` get the document set),
 * plus every response's `X-Request-Id` and a default `Cache-Control: no-store` (API data is never cached unless a
 * route says so). Hijacked routes (health) apply `app.securityHeaders.api` themselves.
 *
 * Why not `@fastify/helmet`: it rebuilds the helmet middleware on every request (parsing and validating the CSP
 * directives each time). Measured with `bench/api-positions.ts`'s server (GET /api/positions, 50 connections, server
 * user CPU per request, medians of interleaved runs on the shared 2-core machine under load): 56-63 µs with
 * `@fastify/helmet`, 41-52 µs with `helmet()` built once and called per request, 36-42 µs with precomputed headers
 * (10.6-11.7k vs 14-16.5k req/s). Same headers, same values, a third of the API's CPU at the time.
 */
async function securityHeaders(app: FastifyInstance, opts: PluginOptions): Promise<void> {
  // HSTS only where this server terminates TLS itself: behind a proxy, the proxy sends it (deploy/nginx).
  const hsts: Record<string, string> = opts.options.hsts ? { 'strict-transport-security': HSTS_HEADER } : {};
  const sets = {
    api: Object.freeze({ ...helmetHeaders(API_HELMET_OPTIONS), ...hsts }),
    document: Object.freeze({ ...helmetHeaders(DOCUMENT_HELMET_OPTIONS), ...hsts }),
  };
  app.decorate('securityHeaders', sets);
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.headers(req.routeOptions.config.document === true ? sets.document : sets.api);
    reply.header('x-request-id', req.id);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}

export default fp(securityHeaders, { name: 'trader-security-headers', fastify: '5.x' });
