import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { API_DEFAULTS } from './defaults.js';
import { createHttpServer } from './server.js';
import type { HttpServerOptions, RunningHttpServer } from './types.js';

/**
 * @deprecated Options of the old entry point: {@link HttpServerOptions} plus `server`. Use `createHttpServer`.
 */
export interface ApiServerOptions extends HttpServerOptions {
  /** A host server whose requests are handed to `handler` and whose upgrades on `stream.path` are taken. */
  server?: Server;
}

/** @deprecated The old running server: name `api`, and a `handler` for a host server's fallback. */
export interface RunningApiServer extends Omit<RunningHttpServer, 'name'> {
  readonly name: 'api';
  /** Hands a host server's request to this server's router. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * @deprecated Transition shim for `src/app/api-mount.ts` until it calls {@link createHttpServer}; delete with it.
 *
 * Starts `createHttpServer` (which always listens itself, on `port`/`host`); with `server`, requests given to
 * `handler` and upgrades on `stream.path` of that host server are forwarded to it, so the old mounted wiring keeps
 * working meanwhile. `close()` leaves the host server open.
 */
export async function createApiServer(options: ApiServerOptions): Promise<RunningApiServer> {
  const { server: host, ...rest } = options;
  const http = await createHttpServer(rest);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    http.server.emit('request', req, res);
  };
  if (host === undefined) return { ...http, name: 'api', handler };
  const streamPath = options.stream?.path ?? API_DEFAULTS.stream.path;
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '/').split('?', 1)[0] === streamPath) http.server.emit('upgrade', req, socket, head);
  };
  host.on('upgrade', onUpgrade);
  return {
    ...http,
    name: 'api',
    handler,
    server: host,
    get url() {
      const a = host.address();
      return typeof a === 'object' && a !== null
        ? `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`
        : http.url;
    },
    async close() {
      host.off('upgrade', onUpgrade);
      await http.close();
    },
  };
}
