import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { clientAddressKey } from '../client-address.js';
import { trustFunction } from '../proxy-trust.js';
import type { PluginOptions } from './context.js';

/**
 * Per-IP connection cap and connection counters, on the HTTP server's sockets (before TLS and before any request is
 * parsed, so a client holding idle sockets is refused at the cost of an accept and a close):
 *
 * - a connection from an address (IPv6 grouped by /64, like the rate limits) that already has `maxConnectionsPerIp`
 *   open is destroyed at once (`stats().connections.refused`); streams are connections too, so this also caps a
 *   client's WebSockets. Trusted proxies (`trustProxy`) are exempt: behind them every client shares their address,
 *   and the per-IP rate limit (which sees `X-Forwarded-For`) still applies;
 * - the map of open connections per address only holds addresses with a connection open, so it is bounded by the
 *   process's open descriptors whatever addresses connect;
 * - `clientError` is counted: `timedOut` for the header and request timeouts (`headersTimeoutMs`,
 *   `requestTimeoutMs`, which Node enforces with a 408), `clientErrors` for the rest (malformed requests, headers too
 *   large, resets). Fastify's own `clientError` handler still answers them.
 */
async function connectionLimits(app: FastifyInstance, { options, counters }: PluginOptions): Promise<void> {
  const c = counters.connections;
  const max = options.maxConnectionsPerIp;
  const trust = trustFunction(options.trustProxy);
  const open = new Map<string, number>();
  app.server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    if (max === 0 || trust?.(address, 0) === true) {
      c.open++;
      socket.once('close', () => {
        c.open--;
      });
      return;
    }
    const key = clientAddressKey(address);
    const n = open.get(key) ?? 0;
    if (n >= max) {
      c.refused++;
      socket.destroy();
      return;
    }
    open.set(key, n + 1);
    c.open++;
    socket.once('close', () => {
      c.open--;
      const left = (open.get(key) ?? 1) - 1;
      if (left <= 0) open.delete(key);
      else open.set(key, left);
    });
  });
  app.server.on('clientError', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') c.timedOut++;
    else c.clientErrors++;
  });
}

export default fp(connectionLimits, { name: 'trader-connection-limits', fastify: '5.x' });
