import helmet from '@fastify/helmet';
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
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: DASHBOARD_CSP_DIRECTIVES },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}

export default fp(securityHeaders, { name: 'trader-security-headers', fastify: '5.x' });
