import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AttachableServer } from '../types.js';

/** What closing one server found. */
export interface ServerCloseResult {
  inFlightAtClose: number;
  forcedConnections: number;
}

/**
 * Tracks one attached node:http server's sockets and in-flight responses, and closes it gracefully:
 * stop accepting, let in-flight requests finish (answering them with `Connection: close`), close idle
 * keep-alive sockets at once, destroy what is left at the deadline.
 */
export class ServerTracker {
  readonly server: AttachableServer;
  private readonly sockets = new Set<Socket>();
  private readonly inflight = new Set<ServerResponse>();
  private closing = false;
  private idleSweepScheduled = false;

  constructor(server: AttachableServer) {
    this.server = server;
    server.on('connection', this.onConnection);
    // Before the application's listener, so a request arriving during closing is answered with Connection: close.
    server.prependListener('request', this.onRequest);
  }

  /** Requests being served right now. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** Open sockets seen since attach. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Removes the listeners (server no longer tracked). */
  detach(): void {
    this.server.off('connection', this.onConnection);
    this.server.off('request', this.onRequest);
  }

  /** Closes the server; resolves when every connection is gone or after `timeoutMs` (destroying the rest). */
  async close(timeoutMs: number): Promise<ServerCloseResult> {
    this.closing = true;
    const inFlightAtClose = this.inflight.size;
    for (const res of this.inflight) if (!res.headersSent) res.shouldKeepAlive = false;
    const closed = new Promise<void>((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
    });
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([closed.then(() => this.drained()), deadline]);
    clearTimeout(timer);
    let forcedConnections = 0;
    if (outcome === 'timeout' || this.sockets.size > 0) {
      forcedConnections = this.sockets.size;
      this.server.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    }
    this.detach();
    return { inFlightAtClose, forcedConnections };
  }

  // server.close() only calls back once all connections are gone, but sockets seen before attach are not in
  // this.sockets; wait for the tracked ones too, so the counts are right.
  private async drained(): Promise<'done'> {
    while (this.sockets.size > 0) {
      await new Promise<void>((resolve) => {
        const first = this.sockets.values().next().value as Socket;
        first.once('close', () => resolve());
      });
    }
    return 'done';
  }

  private readonly onConnection = (socket: Socket): void => {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  };

  private readonly onRequest = (_req: unknown, res: ServerResponse): void => {
    this.inflight.add(res);
    if (this.closing) res.shouldKeepAlive = false;
    res.once('close', this.onResponseClose.bind(this, res));
  };

  private onResponseClose(res: ServerResponse): void {
    this.inflight.delete(res);
    if (this.closing && !this.idleSweepScheduled) {
      this.idleSweepScheduled = true;
      // After the response the socket turns idle on the next tick; sweep then.
      setImmediate(() => {
        this.idleSweepScheduled = false;
        this.server.closeIdleConnections();
      });
    }
  }
}
