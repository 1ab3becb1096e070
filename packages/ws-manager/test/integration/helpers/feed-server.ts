import { freePort } from '@cryptoscalp/testkit';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A small exchange-like feed on loopback for the tests: clients send `{ method: 'SUBSCRIBE', params: [stream], id }`
 * and get `{ result: null, id }`, then `{ stream, u, E }` every `intervalMs` per subscribed stream. The sequence
 * counters live in this object and keep running while the server is stopped, so a restart shows a real gap.
 */
export class FeedServer {
  port = 0;
  private wss: WebSocketServer | undefined;
  private readonly subscribers = new Map<WebSocket, Set<string>>();
  private ticker: NodeJS.Timeout | undefined;
  /** Subscribe requests received (all connections, all runs). */
  subscribeRequests: Array<{ stream: string; at: number }> = [];
  connections = 0;
  /** When false, data for the stream is not sent (to simulate a quiet stream). */
  readonly muted = new Set<string>();
  /** Optional hook to mutate each outgoing frame list (duplicates, reordering). */
  transform: ((frames: string[], stream: string) => string[]) | undefined;

  /** `seqs` can be shared by two servers that play two endpoints of one venue (same sequence numbers). */
  constructor(
    private readonly intervalMs = 5,
    private readonly seqs = new Map<string, number>(),
  ) {}

  url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  seq(stream: string): number {
    return this.seqs.get(stream) ?? 0;
  }

  async start(port?: number): Promise<this> {
    this.port = port ?? (this.port || (await freePort()));
    const wss = new WebSocketServer({ port: this.port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    this.wss = wss;
    wss.on('connection', (ws) => {
      this.connections++;
      this.subscribers.set(ws, new Set());
      ws.on('close', () => this.subscribers.delete(ws));
      ws.on('message', (raw) => {
        let msg: { method?: string; params?: string[]; id?: number };
        try {
          msg = JSON.parse(raw.toString());
        } catch {
          return;
        }
        const streams = this.subscribers.get(ws);
        if (streams === undefined) return;
        for (const stream of msg.params ?? []) {
          if (msg.method === 'SUBSCRIBE') {
            streams.add(stream);
            this.subscribeRequests.push({ stream, at: Date.now() });
          } else if (msg.method === 'UNSUBSCRIBE') streams.delete(stream);
        }
        ws.send(JSON.stringify({ result: null, id: msg.id }));
      });
    });
    if (this.ticker === undefined) {
      this.ticker = setInterval(() => this.tick(), this.intervalMs);
    }
    return this;
  }

  /** Advances every known stream by one and sends it to its subscribers. */
  private tick(): void {
    const known = new Set<string>(this.seqs.keys());
    for (const streams of this.subscribers.values()) for (const s of streams) known.add(s);
    for (const stream of known) {
      const u = this.seq(stream) + 1;
      this.seqs.set(stream, u);
      if (this.muted.has(stream)) continue;
      let frames = [JSON.stringify({ stream, u, E: Date.now() })];
      if (this.transform !== undefined) frames = this.transform(frames, stream);
      for (const [ws, streams] of this.subscribers) {
        if (!streams.has(stream) || ws.readyState !== ws.OPEN) continue;
        for (const frame of frames) ws.send(frame);
      }
    }
  }

  /** Sends a raw frame to every client. */
  broadcastRaw(data: string | Buffer, binary = false): void {
    for (const ws of this.subscribers.keys()) ws.send(data, { binary });
  }

  /** Stops reading from every connected client (they get no pongs; server writes still flow). */
  pauseClients(): void {
    for (const ws of this.subscribers.keys()) (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  clientCount(): number {
    return this.subscribers.size;
  }

  /** Kills the server: every client socket is destroyed without a close frame. */
  async kill(): Promise<void> {
    const wss = this.wss;
    this.wss = undefined;
    if (wss === undefined) return;
    for (const ws of wss.clients) ws.terminate();
    this.subscribers.clear();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  async stop(): Promise<void> {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    await this.kill();
  }
}
