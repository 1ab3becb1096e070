import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { API_DEFAULTS } from './defaults.js';
import type { Principal, StreamOptions } from './types.js';

/** Health result, in the suite's structural contract shape. */
export interface HealthCheckResult {
  status: 'pass' | 'warn' | 'fail';
  observedValue?: number;
  observedUnit?: string;
  output?: string;
  time?: string;
  details?: Record<string, unknown>;
}

/**
 * What the API needs from a live-stream fan-out. {@link WsTopicHub} implements it on `ws`; a
 * `@cryptoscalp/ws-manager` `StreamHub` adapter can replace it without touching the routes.
 */
export interface LiveHub {
  /** Publishes `data` to the subscribers of `topic` (and keeps it for resume). */
  publish(topic: string, data: unknown): void;
  /** Completes an already authenticated WebSocket upgrade. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, principal: Principal): void;
  /** Counters. */
  stats(): HubStats;
  /** `warn` while clients are conflated, `fail` after close. */
  healthCheck(): Promise<HealthCheckResult>;
  /** Closes every client (1001) and stops timers. Idempotent. */
  close(): Promise<void>;
}

/** Counters of a hub. */
export interface HubStats {
  clients: number;
  topics: number;
  published: number;
  delivered: number;
  conflated: number;
  /** Clients whose socket is over `maxBufferedBytes` right now. */
  slowClients: number;
}

/** Topic names accepted from clients. */
export const TOPIC_PATTERN = /^(?:(?:prices|book)\.[A-Z0-9][A-Z0-9_-]{0,31}|fills|positions|pnl|alerts)$/;

interface Topic {
  offset: number;
  /** Ring of serialized frames; `frames[i]` has offset `offsets[i]`. */
  frames: string[];
  offsets: number[];
  subscribers: Set<Client>;
}

interface Client {
  ws: WebSocket;
  principal: Principal;
  topics: Set<string>;
  /** Latest frame per topic held back while the socket is over its buffer bound. */
  held: Map<string, string>;
  alive: boolean;
}

/**
 * A minimal topic fan-out on `ws`: JSON frames, per-topic offsets and history for resume, and conflation
 * of slow clients (the latest message per topic is kept until the socket drains; the offset jump tells the
 * client it missed intermediate messages, which it can replay with `from`).
 *
 * Protocol (client -> server): `{"op":"subscribe","topics":["pnl"],"from":{"pnl":12},"epoch":"..."}`,
 * `{"op":"unsubscribe","topics":[...]}`, `{"op":"ping"}`.
 * Server -> client: `{"type":"welcome","epoch":"...","sub":"alice","role":"viewer"}`,
 * `{"type":"subscribed","topics":[...],"offsets":{...}}`, `{"type":"message","topic":"pnl","offset":13,"data":{...}}`,
 * `{"type":"gap","topic":"pnl","from":12,"oldest":40}`, `{"type":"pong"}`, `{"type":"error","message":"..."}`.
 */
export class WsTopicHub implements LiveHub {
  /** Identifies this hub's offsets: a client resuming with another epoch starts from the live edge. */
  readonly epoch = randomUUID();
  readonly #wss: WebSocketServer;
  readonly #topics = new Map<string, Topic>();
  readonly #clients = new Set<Client>();
  readonly #held = new Set<Client>();
  readonly #o: Required<StreamOptions>;
  #flushTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;
  #published = 0;
  #delivered = 0;
  #conflated = 0;

  constructor(options: StreamOptions = {}) {
    this.#o = { ...API_DEFAULTS.stream, ...options };
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#o.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // Browsers cannot set headers on a WebSocket; they send the token as a subprotocol pair `bearer, <jwt>`.
      handleProtocols: (protocols) => (protocols.has('bearer') ? 'bearer' : false),
    });
    if (this.#o.heartbeatIntervalMs > 0) {
      this.#heartbeat = setInterval(() => this.#beat(), this.#o.heartbeatIntervalMs);
      this.#heartbeat.unref();
    }
  }

  publish(topic: string, data: unknown): void {
    if (this.#closed) return;
    let t = this.#topics.get(topic);
    if (t === undefined) {
      t = { offset: 0, frames: [], offsets: [], subscribers: new Set() };
      this.#topics.set(topic, t);
    }
    const offset = ++t.offset;
    const frame = `{"type":"message","topic":${JSON.stringify(topic)},"offset":${offset},"data":${JSON.stringify(data)}}`;
    this.#published++;
    if (this.#o.historySize > 0) {
      t.frames.push(frame);
      t.offsets.push(offset);
      if (t.frames.length > this.#o.historySize) {
        t.frames.shift();
        t.offsets.shift();
      }
    }
    for (const c of t.subscribers) this.#send(c, topic, frame);
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, principal: Principal): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#attach(ws, principal));
  }

  stats(): HubStats {
    return {
      clients: this.#clients.size,
      topics: this.#topics.size,
      published: this.#published,
      delivered: this.#delivered,
      conflated: this.#conflated,
      slowClients: this.#held.size,
    };
  }

  async healthCheck(): Promise<HealthCheckResult> {
    const time = new Date().toISOString();
    if (this.#closed) return { status: 'fail', output: 'closed', time };
    return {
      status: this.#held.size > 0 ? 'warn' : 'pass',
      observedValue: this.#clients.size,
      observedUnit: 'clients',
      time,
      ...(this.#held.size > 0 ? { output: `${this.#held.size} slow clients conflated` } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#flushTimer !== undefined) clearInterval(this.#flushTimer);
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    const closing = [...this.#clients].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          const t = setTimeout(() => {
            c.ws.terminate();
            resolve();
          }, 1_000);
          c.ws.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          c.ws.close(1001, 'server shutting down');
        }),
    );
    await Promise.all(closing);
    this.#clients.clear();
    this.#held.clear();
    this.#topics.clear();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #attach(ws: WebSocket, principal: Principal): void {
    const client: Client = { ws, principal, topics: new Set(), held: new Map(), alive: true };
    this.#clients.add(client);
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (raw, isBinary) => this.#onMessage(client, raw, isBinary));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => this.#detach(client));
    ws.send(JSON.stringify({ type: 'welcome', epoch: this.epoch, sub: principal.sub, role: principal.role }));
  }

  #detach(client: Client): void {
    this.#clients.delete(client);
    this.#held.delete(client);
    for (const name of client.topics) this.#topics.get(name)?.subscribers.delete(client);
    client.topics.clear();
  }

  #onMessage(client: Client, raw: RawData, isBinary: boolean): undefined {
    let msg: { op?: unknown; topics?: unknown; from?: unknown; epoch?: unknown };
    try {
      if (isBinary) throw new Error('binary');
      msg = JSON.parse(raw.toString());
      if (typeof msg !== 'object' || msg === null) throw new Error('not an object');
    } catch {
      return this.#reply(client, { type: 'error', message: 'messages must be JSON objects' });
    }
    if (msg.op === 'ping') return this.#reply(client, { type: 'pong' });
    if (msg.op !== 'subscribe' && msg.op !== 'unsubscribe')
      return this.#reply(client, { type: 'error', message: 'op must be subscribe, unsubscribe or ping' });
    const topics = msg.topics;
    if (!Array.isArray(topics) || topics.length === 0 || topics.some((t) => typeof t !== 'string'))
      return this.#reply(client, { type: 'error', message: 'topics must be a non-empty array of strings' });
    const bad = (topics as string[]).find((t) => !TOPIC_PATTERN.test(t));
    if (bad !== undefined) return this.#reply(client, { type: 'error', message: `unknown topic ${bad}` });
    if (msg.op === 'unsubscribe') {
      for (const name of topics as string[]) {
        client.topics.delete(name);
        client.held.delete(name);
        this.#topics.get(name)?.subscribers.delete(client);
      }
      return this.#reply(client, { type: 'unsubscribed', topics });
    }
    if (client.topics.size + topics.length > this.#o.maxTopicsPerClient)
      return this.#reply(client, {
        type: 'error',
        message: `at most ${this.#o.maxTopicsPerClient} topics per client`,
      });
    const from =
      msg.epoch === this.epoch && typeof msg.from === 'object' && msg.from !== null
        ? (msg.from as Record<string, unknown>)
        : {};
    const offsets: Record<string, number> = {};
    for (const name of topics as string[]) {
      let t = this.#topics.get(name);
      if (t === undefined) {
        t = { offset: 0, frames: [], offsets: [], subscribers: new Set() };
        this.#topics.set(name, t);
      }
      offsets[name] = t.offset;
      t.subscribers.add(client);
      client.topics.add(name);
    }
    this.#reply(client, { type: 'subscribed', topics, offsets, epoch: this.epoch });
    // Replay after the ack, so the client sees history in offset order before live messages.
    for (const name of topics as string[]) {
      const last = from[name];
      if (typeof last !== 'number' || !Number.isInteger(last) || last < 0) continue;
      const t = this.#topics.get(name) as Topic;
      const oldest = t.offsets[0];
      if (oldest === undefined) continue;
      if (last + 1 < oldest) this.#reply(client, { type: 'gap', topic: name, from: last, oldest });
      for (let i = 0; i < t.frames.length; i++)
        if ((t.offsets[i] as number) > last) this.#send(client, name, t.frames[i] as string);
    }
  }

  #reply(client: Client, msg: Record<string, unknown>): undefined {
    if (client.ws.readyState === WebSocket.OPEN) client.ws.send(JSON.stringify(msg));
  }

  #send(client: Client, topic: string, frame: string): void {
    const ws = client.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (client.held.size > 0 || ws.bufferedAmount > this.#o.maxBufferedBytes) {
      if (client.held.has(topic)) this.#conflated++;
      client.held.delete(topic);
      client.held.set(topic, frame);
      this.#held.add(client);
      this.#startFlush();
      return;
    }
    ws.send(frame);
    this.#delivered++;
  }

  #startFlush(): void {
    if (this.#flushTimer !== undefined) return;
    this.#flushTimer = setInterval(() => {
      for (const c of this.#held) {
        if (c.ws.readyState !== WebSocket.OPEN) {
          this.#held.delete(c);
          continue;
        }
        if (c.ws.bufferedAmount > this.#o.maxBufferedBytes) continue;
        const frames = [...c.held.values()];
        c.held.clear();
        this.#held.delete(c);
        for (const f of frames) {
          c.ws.send(f);
          this.#delivered++;
        }
      }
      if (this.#held.size === 0 && this.#flushTimer !== undefined) {
        clearInterval(this.#flushTimer);
        this.#flushTimer = undefined;
      }
    }, this.#o.flushIntervalMs);
    this.#flushTimer.unref();
  }

  #beat(): void {
    for (const c of this.#clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}
