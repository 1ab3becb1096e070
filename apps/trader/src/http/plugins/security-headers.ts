import helmet from '@fastify/helmet';
import helmetLib from 'helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { PluginOptions } from './context.js';

/**
 * The dashboard's Content-Security-Policy, on every response (the API's JSON does not need more, and one global
 * policy keeps helmet on its fast path): same-origin scripts, styles and WebSocket, no framing.
 */
export const DASHBOARD_CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'", 'ws:', 'wss:'],
  frameAncestors: ["'none'"],
};

/**
 * Security headers with `@fastify/helmet` (its defaults: `X-Content-Type-Options: nosniff`, COOP/CORP,
 * `Origin-Agent-Cluster`, ...), plus the strict CSP above, `X-Frame-Options: DENY` and
 * `Referrer-Policy: no-referrer`. HSTS is left to the TLS-terminating proxy (this server speaks plain HTTP).
 * Also every response's `X-Request-Id` and a default `Cache-Control: no-store` (API data is never cached unless
 * a route says so).
 */
async function securityHeaders(app: FastifyInstance, _opts: PluginOptions): Promise<void> {
  const cfg = {
    contentSecurityPolicy: { useDefaults: false, directives: DASHBOARD_CSP_DIRECTIVES },
    frameguard: { action: 'deny' as const },
    referrerPolicy: { policy: 'no-referrer' as const },
    strictTransportSecurity: false,
  };
  const mode = process.env.XHELMET ?? 'fastify';
  if (mode === 'lean') {
    const captured: Record<string, string> = {};
    helmetLib({ ...cfg, xDnsPrefetchControl: false, xDownloadOptions: false, xPermittedCrossDomainPolicies: false, xXssProtection: false })({} as never, { setHeader: (k: string, v: string) => { captured[k] = v; }, removeHeader: () => {} } as never, () => {});
    app.addHook('onSend', (req, reply, payload, done) => {
      reply.headers(captured);
      reply.header('x-request-id', req.id);
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      done(null, payload);
    });
    return;
  }
  if (mode === 'fastify') await app.register(helmet, cfg);
  else if (mode === 'once') {
    const mw = helmetLib(cfg);
    app.addHook('onRequest', (req, reply, done) => { mw(req.raw, reply.raw, () => done()); });
  } else {
    const captured: Record<string, string> = {};
    helmetLib(cfg)({} as never, { setHeader: (k: string, v: string) => { captured[k] = v; }, removeHeader: () => {} } as never, () => {});
    const entries = Object.entries(captured);
    if (mode === 'raw') app.addHook('onRequest', (_req, reply, done) => { for (const [k, v] of entries) reply.raw.setHeader(k, v); done(); });
    else app.addHook('onRequest', (_req, reply, done) => { reply.headers(captured); done(); });
  }
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}

export default fp(securityHeaders, { name: 'trader-security-headers', fastify: '5.x' });
