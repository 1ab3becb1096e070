import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type WebSocket, WebSocketServer } from 'ws';
import { TraderError } from '../../errors.js';
import { MarketModel } from './market-model.js';

/** Options of {@link ExchangeSimulator}. */
export interface ExchangeSimulatorOptions {
  /** Symbols to simulate. @default ['BTCUSDT','ETHUSDT','SOLUSDT'] */
  symbols?: string[];
  /** Port; 0 picks a free one. @default 0 */
  port?: number;
  /** Host (loopback only). @default '127.0.0.1' */
  host?: string;
  /** Generation tick; one depth diff per symbol per tick at most. @default 10 */
  tickMs?: number;
  /** Mean order-flow events per second per symbol in the calm regime. @default 200 */
  eventsPerSecond?: number;
  /** PRNG seed. @default 42 */
  seed?: number;
  /** Generate on a timer; false means only {@link ExchangeSimulator.step} advances the market (tests). @default true */
  autoRun?: boolean;
}

/** Counters of the simulator. */
export interface SimulatorStats {
  clients: number;
  framesSent: number;
  depthUpdates: number;
  trades: number;
  snapshotsServed: number;
  faults: {
    disconnects: number;
    gaps: number;
    duplicates: number;
    malformed: number;
    stalls: number;
    clockJumps: number;
  };
  /** How far the venue's clock (the `E` and `T` times it sends) is from this machine's, ms ({@link ExchangeSimulator.jumpClock}). */
  clockOffsetMs: number;
}

interface Client {
  ws: WebSocket;
  combined: boolean;
  streams: Set<string>;
}

/**
 * A local exchange speaking Binance's public market-data format: a WebSocket server (`/stream?streams=a/b`
 * combined streams or `/ws`, plus `SUBSCRIBE`/`UNSUBSCRIBE` messages) publishing `<symbol>@depth` diffs (`U`, `u`,
 * `pu`, `E`) and `<symbol>@trade` events, and a REST endpoint `GET /api/v3/depth?symbol=&limit=` returning the
 * true book with `lastUpdateId`. Faults are switched on programmatically: {@link disconnectAll}, {@link injectGap},
 * {@link duplicateNext}, {@link sendMalformed}, {@link stall}, {@link jumpClock}.
 */
export class ExchangeSimulator {
  private readonly models = new Map<string, MarketModel>();
  private readonly clients = new Set<Client>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastStep = 0;
  private stalledUntil = 0;
  private duplicates = 0;
  private readonly gapPending = new Set<string>();
  private closed = false;
  private readonly options: Required<ExchangeSimulatorOptions>;
  private readonly counters: SimulatorStats = {
    clients: 0,
    framesSent: 0,
    depthUpdates: 0,
    trades: 0,
    snapshotsServed: 0,
    faults: { disconnects: 0, gaps: 0, duplicates: 0, malformed: 0, stalls: 0, clockJumps: 0 },
    clockOffsetMs: 0,
  };

  constructor(options: ExchangeSimulatorOptions = {}) {
    this.options = {
      symbols: options.symbols ?? ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
      port: options.port ?? 0,
      host: options.host ?? '127.0.0.1',
      tickMs: options.tickMs ?? 10,
      eventsPerSecond: options.eventsPerSecond ?? 200,
      seed: options.seed ?? 42,
      autoRun: options.autoRun ?? true,
    };
    const o = this.options;
    if (o.symbols.length === 0)
      throw new TraderError('E_TRADER_INVALID_OPTION', 'symbols must not be empty', { field: 'symbols' });
    if (!(o.tickMs >= 1)) throw new TraderError('E_TRADER_INVALID_OPTION', 'tickMs must be >= 1', { field: 'tickMs' });
    if (!(o.eventsPerSecond > 0)) {
      throw new TraderError('E_TRADER_INVALID_OPTION', 'eventsPerSecond must be > 0', { field: 'eventsPerSecond' });
    }
    o.symbols.forEach((s, i) => {
      this.models.set(s, new MarketModel(s, o.seed + i * 7919, o.eventsPerSecond));
    });
  }

  /** Starts the HTTP and WebSocket server (and the generator when `autoRun`). */
  async start(): Promise<{ wsUrl: string; restUrl: string; port: number }> {
    if (this.server) return this.urls();
    const server = createServer((req, res) => this.onHttp(req, res));
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => this.onConnection(ws, req));
    this.server = server;
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    if (this.options.autoRun) {
      this.lastStep = performance.now();
      this.timer = setInterval(() => this.tick(), this.options.tickMs);
    }
    return this.urls();
  }

  /** Combined-stream URL, REST base URL and port. */
  urls(): { wsUrl: string; restUrl: string; port: number } {
    const port = (this.server?.address() as AddressInfo | null)?.port ?? 0;
    return { wsUrl: `ws://${this.options.host}:${port}/stream`, restUrl: `http://${this.options.host}:${port}`, port };
  }

  /** The stream names to subscribe for a symbol, Binance style. */
  static streamsFor(symbol: string): string[] {
    const s = symbol.toLowerCase();
    return [`${s}@depth@100ms`, `${s}@trade`];
  }

  /** The simulator's true book for a symbol (what a correct client must hold). */
  trueBook(symbol: string): MarketModel['book'] {
    const m = this.models.get(symbol);
    if (!m) throw new TraderError('E_TRADER_INVALID_OPTION', `unknown symbol ${symbol}`, { field: 'symbol' });
    return m.book;
  }

  /** The model of a symbol (regimes, spec). */
  model(symbol: string): MarketModel | undefined {
    return this.models.get(symbol);
  }

  /** Advances every market by `dtMs` and publishes the results (manual stepping for tests, or the timer). */
  step(dtMs: number): void {
    // The venue's clock: this machine's plus the offset a clock jump left (the market itself runs on real time).
    const now = Date.now() + this.counters.clockOffsetMs;
    for (const [symbol, model] of this.models) {
      model.step(dtMs);
      const lower = symbol.toLowerCase();
      for (const t of model.takeTrades()) {
        this.counters.trades++;
        this.publish(
          `${lower}@trade`,
          JSON.stringify({
            e: 'trade',
            E: now,
            s: symbol,
            t: t.id,
            p: t.price.toFixed(model.spec.priceDecimals),
            q: t.qty.toFixed(model.spec.qtyDecimals),
            T: now,
            m: t.buyerIsMaker,
            M: true,
          }),
        );
      }
      const diff = model.takeDiff();
      if (!diff) continue;
      if (this.gapPending.delete(symbol)) {
        this.counters.faults.gaps++;
        continue; // the diff is lost on the wire: clients see pu != their last u
      }
      const data = JSON.stringify({
        e: 'depthUpdate',
        E: now,
        T: now,
        s: symbol,
        U: diff.firstId,
        u: diff.lastId,
        pu: diff.prevLastId,
        b: diff.bids,
        a: diff.asks,
      });
      this.counters.depthUpdates++;
      this.publish(`${lower}@depth`, data);
      if (this.duplicates > 0) {
        this.duplicates--;
        this.counters.faults.duplicates++;
        this.publish(`${lower}@depth`, data);
      }
    }
  }

  private tick(): void {
    const now = performance.now();
    const dt = Math.min(250, now - this.lastStep);
    this.lastStep = now;
    if (Date.now() < this.stalledUntil) return;
    this.step(dt);
  }

  private publish(streamKey: string, data: string): void {
    for (const c of this.clients) {
      let name: string | undefined;
      for (const s of c.streams) {
        if (s === streamKey || s.startsWith(`${streamKey}@`)) {
          name = s;
          break;
        }
      }
      if (name === undefined || c.ws.readyState !== 1) continue;
      c.ws.send(c.combined ? `{"stream":"${name}","data":${data}}` : data);
      this.counters.framesSent++;
    }
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const client: Client = { ws, combined: url.pathname.startsWith('/stream'), streams: new Set() };
    for (const s of (url.searchParams.get('streams') ?? '').split('/')) if (s) client.streams.add(s);
    this.clients.add(client);
    this.counters.clients = this.clients.size;
    ws.on('message', (raw) => {
      let msg: { method?: string; params?: unknown; id?: unknown };
      try {
        msg = JSON.parse(String(raw));
      } catch {
        ws.send(JSON.stringify({ code: 2, msg: 'Invalid JSON' }));
        return;
      }
      const params = Array.isArray(msg.params) ? msg.params.filter((p): p is string => typeof p === 'string') : [];
      if (msg.method === 'SUBSCRIBE') for (const p of params) client.streams.add(p);
      else if (msg.method === 'UNSUBSCRIBE') for (const p of params) client.streams.delete(p);
      else if (msg.method === 'LIST_SUBSCRIPTIONS') {
        ws.send(JSON.stringify({ result: [...client.streams], id: msg.id ?? null }));
        return;
      }
      ws.send(JSON.stringify({ result: null, id: msg.id ?? null }));
    });
    ws.on('close', () => {
      this.clients.delete(client);
      this.counters.clients = this.clients.size;
    });
    ws.on('error', () => {});
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && (url.pathname === '/api/v3/depth' || url.pathname === '/fapi/v1/depth')) {
      const symbol = url.searchParams.get('symbol') ?? '';
      const model = this.models.get(symbol.toUpperCase());
      if (!model) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: -1121, msg: 'Invalid symbol.' }));
        return;
      }
      const limit = Math.min(5000, Math.max(1, Number(url.searchParams.get('limit') ?? 100) || 100));
      this.counters.snapshotsServed++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(model.snapshot(limit)));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/v3/ping') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: -1, msg: 'Not found' }));
  }

  /** Fault: drops every client connection abruptly (as a venue restart or network cut). */
  disconnectAll(): void {
    this.counters.faults.disconnects++;
    for (const c of this.clients) c.ws.terminate();
  }

  /** Fault: the next depth diff of `symbol` (or of every symbol) is never sent, so clients see a sequence gap. */
  injectGap(symbol?: string): void {
    for (const s of symbol ? [symbol] : this.models.keys()) this.gapPending.add(s);
  }

  /** Fault: the next `n` depth diffs are each sent twice. */
  duplicateNext(n: number): void {
    this.duplicates += n;
  }

  /** Fault: sends `n` malformed frames (invalid JSON, wrong shapes, binary garbage) to every client now. */
  sendMalformed(n: number): void {
    const garbage = [
      '{"stream":',
      'not json at all',
      '{"stream":"x@depth","data":{"e":"depthUpdate","s":"BTCUSDT","U":"x"}}',
    ];
    for (let i = 0; i < n; i++) {
      this.counters.faults.malformed++;
      for (const c of this.clients) {
        if (c.ws.readyState !== 1) continue;
        if (i % 4 === 3) c.ws.send(Buffer.from([0xff, 0x00, 0xfe, 0x13]));
        else c.ws.send(garbage[i % 3] as string);
      }
    }
  }

  /** Fault: the venue goes silent for `ms` (no generation, no frames; connections stay open). */
  stall(ms: number): void {
    this.counters.faults.stalls++;
    this.stalledUntil = Date.now() + ms;
  }

  /**
   * Fault: the venue's clock jumps by `ms` (negative: backwards), as a venue host's clock stepped by NTP or by hand:
   * every `E` and `T` time sent from now on is off by the sum of the jumps so far. Only the times change: the
   * market, its sequence ids and the frame rate go on as before. `jumpClock(-offset)` undoes it.
   */
  jumpClock(ms: number): void {
    if (!Number.isFinite(ms)) throw new TypeError(`jumpClock: ms must be a finite number (got ${ms})`);
    this.counters.faults.clockJumps++;
    this.counters.clockOffsetMs += ms;
  }

  /** Counters. */
  stats(): SimulatorStats {
    return structuredClone(this.counters);
  }

  /** Stops the generator, closes every connection and the server. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    // Keep-alive REST connections (fetch) would hold close() open.
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
