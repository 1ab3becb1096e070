import { randomUUID } from 'node:crypto';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AuthRejection } from '@cryptoscalp/ws-manager';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { bearerToken } from '../auth.js';
import { clientAddress, trustFunction } from '../proxy-trust.js';
import { bridgeTraderEvents } from '../stream-bridge.js';
import { createLiveHub, type UpgradeAuthenticator } from '../streams.js';
import type { PluginOptions } from './context.js';

/**
 * Live streams: `@cryptoscalp/ws-manager`'s `StreamHub` on the same server at `stream.path`, fed by the trader's
 * events (`bridgeTraderEvents`). Every upgrade is checked like a request: load shedding (503 + `Retry-After`), the
 * per-IP limit (429 + `Retry-After`), the `Origin` (403 unless same-origin or in `stream.allowedOrigins`; clients that
 * send none, i.e. not browsers, pass), the token (401, audited) from `Sec-WebSocket-Protocol: bearer, <jwt>` (what
 * browsers can send) or `Authorization: Bearer` — never from the query string, which lands in proxy logs — and the
 * per-token limit (429), all within `upgradeTimeoutMs` (else 503). Subscriptions are authorized by role
 * (`topicAllowed`). Upgrades to any other path are rate limited per IP like requests (429) and answered 404, once the
 * hub is closed 503, and their socket destroyed, never left hanging. On close
 * (`preClose`, before the server stops accepting) the bridge is unsubscribed and every client gets 1001.
 */
async function streams(app: FastifyInstance, { options, trader, counters }: PluginOptions): Promise<void> {
  const o = options;
  const trust = trustFunction(o.trustProxy);
  const clientIp = (req: IncomingMessage): string => clientAddress(req, trust);
  const shedding = o.loadShedding;
  const checkUpgrade: UpgradeAuthenticator = async (req) => {
    if (shedding !== false && app.isUnderPressure()) {
      counters.shed++;
      return { ok: false, status: 503, headers: { 'Retry-After': shedding.retryAfterSec } };
    }
    const ip = clientIp(req);
    const ipWait = await app.rateLimits.ip(ip);
    if (ipWait !== undefined) return { ok: false, status: 429, headers: { 'Retry-After': ipWait } };
    if (!originAllowed(req, o.stream.allowedOrigins)) {
      void app.audit.append({
        actor: 'anonymous',
        action: 'auth.failure',
        outcome: 'denied',
        requestId: randomUUID(),
        ip,
        detail: {
          reason: 'origin not allowed',
          origin: String(req.headers.origin).slice(0, 200),
          target: `UPGRADE ${o.stream.path}`,
        },
      });
      return { ok: false, status: 403 };
    }
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const token = protocols[0] === 'bearer' && protocols[1] ? protocols[1] : bearerToken(req.headers.authorization);
    let principal: Awaited<ReturnType<typeof app.authenticate>>;
    try {
      principal = await app.authenticate(token ?? undefined, ip, randomUUID(), `UPGRADE ${o.stream.path}`);
    } catch {
      return false;
    }
    const tokenWait = await app.rateLimits.token(principal.tokenId);
    if (tokenWait !== undefined) return { ok: false, status: 429, headers: { 'Retry-After': tokenWait } };
    return principal;
  };
  // Every check above can wait on something (the shared rate-limit store, the session revocation list): bounded, so an
  // upgrade never holds its socket longer than `upgradeTimeoutMs` (Node's header and request timeouts stop at the
  // upgrade). The late answer, if any, is ignored.
  const authenticateUpgrade: UpgradeAuthenticator = (req) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<AuthRejection>((resolve) => {
      timer = setTimeout(() => {
        counters.upgrades.timedOut++;
        resolve({ ok: false, status: 503, headers: { 'Retry-After': 1 } });
      }, o.upgradeTimeoutMs);
    });
    return Promise.race([checkUpgrade(req), timeout]).finally(() => clearTimeout(timer));
  };

  const hub = createLiveHub(app.server, o.stream, authenticateUpgrade);
  const bridge = bridgeTraderEvents(trader, hub, o.stream.bookDepth);
  // StreamHub answers upgrades on its path only; anything else would hang until the client gives up. Those count
  // against the per-IP limit too (429 once over it, else 404).
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === o.stream.path && !hub.closed) return;
    counters.upgrades.refused++;
    if (path === o.stream.path) {
      refuseUpgrade(socket, 503);
      return;
    }
    const answer = (wait: number | undefined) =>
      wait === undefined ? refuseUpgrade(socket, 404) : refuseUpgrade(socket, 429, wait);
    const wait = app.rateLimits.ip(clientIp(req));
    if (wait instanceof Promise) wait.then(answer, () => refuseUpgrade(socket, 404));
    else answer(wait);
  });
  app.decorate('hub', hub);
  app.addHook('preClose', async () => {
    bridge.stop();
    await hub.close();
  });
}

/**
 * Cross-site WebSocket hijacking guard: a browser always sends `Origin`; it must be this server's own (same host as the
 * `Host` header, http or https) or one of `allowed`. Requests without `Origin` come from non-browser clients.
 */
function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === req.headers.host;
  } catch {
    return false;
  }
}

/** Answers an upgrade with an empty HTTP error (and `Retry-After`) and destroys the socket once it is flushed. */
function refuseUpgrade(socket: Duplex, status: number, retryAfterSec?: number): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.on('error', () => socket.destroy());
  socket.once('finish', () => socket.destroy());
  const retry = retryAfterSec === undefined ? '' : `Retry-After: ${retryAfterSec}\r\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n${retry}Content-Length: 0\r\n\r\n`);
}

export default fp(streams, {
  name: 'trader-streams',
  fastify: '5.x',
  dependencies: ['trader-auth', 'trader-rate-limit'],
});
