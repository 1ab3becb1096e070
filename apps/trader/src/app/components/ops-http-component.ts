import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHealthHandler } from '@cryptoscalp/health';
import type { TraderConfig } from '../../config/config-types.js';
import { TraderError } from '../../errors.js';
import { bearerToken } from '../../http/auth.js';
import { scrapeTokenMatcher } from '../../http/scrape-token.js';
import { TlsFiles } from '../../http/tls.js';
import type { Log } from '../../internal/log.js';
import type { Component } from '../../kernel/component.js';
import type { HealthComponent } from './health-component.js';
import type { ObservabilityComponent } from './observability-component.js';

/**
 * The engine role's HTTP server: `/health/*` and `/metrics` only (the API, streams and dashboard live on the
 * gateways). Liveness and readiness are public; the details need nothing more than loopback in this role, and the
 * deployment keeps the port private. With a scrape token (`TRADER_METRICS_TOKEN`), `/metrics` requires it, as on the
 * gateways. With `http.tls`, HTTPS with the same policy and certificate reloads as the gateways' server.
 */
export class OpsHttpComponent implements Component {
  readonly name = 'ops-http';
  #server: Server | undefined;
  #tls: TlsFiles | undefined;

  constructor(
    private readonly config: TraderConfig,
    private readonly health: HealthComponent,
    private readonly observability: ObservabilityComponent,
    /** The scrape token `/metrics` requires; empty: none required. */
    private readonly metricsToken = '',
    /** The trader's counted log (certificate reloads). @default console.error, as `TlsFiles` */
    private readonly log?: Log,
  ) {}

  async start(): Promise<void> {
    const handler = createHealthHandler(this.health.registry, { protectMetrics: false });
    const scrapeToken = this.metricsToken === '' ? undefined : scrapeTokenMatcher(this.metricsToken);
    const { certFile, keyFile } = this.config.http.tls;
    this.#tls =
      certFile === ''
        ? undefined
        : new TlsFiles({ certFile, keyFile, ...(this.log === undefined ? {} : { log: this.log }) });
    const listener: RequestListener = (req, res) =>
      handler(req, res, () => {
        if (req.url === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
          if (scrapeToken !== undefined && !scrapeToken(bearerToken(req.headers.authorization))) {
            res.writeHead(401, { 'www-authenticate': 'Bearer realm="cryptoscalp-trader"' }).end();
            return;
          }
          this.observability.metrics().then(
            ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
            () => res.writeHead(500).end(),
          );
          return;
        }
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      });
    const server =
      this.#tls === undefined ? createServer(listener) : createHttpsServer(this.#tls.serverOptions(), listener);
    this.#tls?.watch(server as HttpsServer);
    // Upgrades are not served here: refuse them instead of leaving the socket open.
    server.on('upgrade', (_req, socket) =>
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
    );
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(this.config.http.port, this.config.http.host, () => ok());
    });
    this.#server = server;
  }

  /** The base URL. */
  url(): string {
    const a = this.#server?.address() as AddressInfo | null | undefined;
    if (a == null) throw new TraderError('E_TRADER_INVALID_OPTION', 'ops-http is not started');
    return `${this.#tls === undefined ? 'http' : 'https'}://${this.config.http.host}:${a.port}`;
  }

  async stop(): Promise<void> {
    this.#tls?.close();
    const s = this.#server;
    if (s === undefined || !s.listening) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
