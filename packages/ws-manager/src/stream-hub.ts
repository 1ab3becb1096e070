import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { channels } from './channels.js';
import { WsManagerError, WsManagerErrorCode } from './errors.js';
import { closeSocket } from './internal/close-socket.js';
import { HubClient } from './internal/hub-client.js';
import { parseClientRequest } from './internal/hub-protocol.js';
import { HubTopic, type Waiting } from './internal/hub-topic.js';
import {
  isAuthRejection,
  statusText,
  toUpgradeRefusal,
  UNAUTHORIZED,
  type UpgradeRefusal,
  writeUpgradeRefusal,
} from './internal/upgrade-refusal.js';
import { type ResolvedHubOptions, resolveHubOptions } from './internal/validate.js';
import type { HealthCheckResult, PublishOptions, StreamHubOptions } from './types.js';

const TEXT = { binary: false } as const;
const noop = () => {};

/**
 * Server-side fan-out over `ws`: clients subscribe to topics with a small JSON protocol; every published message is
 * serialized once and the same Buffer is sent to all subscribers. Slow clients are conflated or disconnected, dead
 * ones are dropped by the heartbeat, and a client that reconnects with its last `{ offset, epoch }` gets what it
 * missed from the topic's bounded history, or a `resnapshot`. An optional broker shares topics between hubs.
 */
export class StreamHub {
  /** Health indicator name. @default 'stream-hub' */
  readonly name: string;
  /** This instance's id (broker origin). */
  readonly instanceId = randomUUID();
  private readonly options: ResolvedHubOptions;
  private readonly wss: WebSocketServer;
  private readonly server: Server;
  private readonly ownsServer: boolean;
  private readonly topics = new Map<string, HubTopic>();
  private readonly clients = new Set<HubClient>();
  private readonly conflating = new Set<HubClient>();
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly readyPromise: Promise<void>;
  private listening = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private nextClientId = 1;
  private lastBrokerErrors = 0;
  /** Refused upgrades per HTTP status (`{ '401': 3, '429': 1 }`). */
  private readonly authRejectedByStatus: Record<string, number> = {};
  private readonly counters = {
    connections: 0,
    disconnects: 0,
    authRejected: 0,
    forbidden: 0,
    published: 0,
    framesSent: 0,
    conflated: 0,
    oversizedFrames: 0,
    slowConsumerConflations: 0,
    slowConsumerDisconnects: 0,
    heartbeatTerminations: 0,
    rateLimited: 0,
    badRequests: 0,
    resumes: 0,
    resnapshots: 0,
    resumesHeld: 0,
    duplicatesDropped: 0,
    brokerIn: 0,
    brokerOut: 0,
    brokerErrors: 0,
    topicsEvicted: 0,
  };

  /** Validates `options` (throws `E_WS_INVALID_OPTION` naming the field) and starts listening / attaches. */
  constructor(options: StreamHubOptions) {
    this.options = resolveHubOptions(options);
    this.name = this.options.name;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.ownsServer = this.options.server === undefined;
    this.server = this.options.server ?? createServer((_req, res) => res.writeHead(426).end());
    this.server.on('upgrade', this.onUpgrade);
    this.readyPromise = this.start();
    // ready() rethrows; the constructor's own promise must never be an unhandled rejection.
    this.readyPromise.catch(noop);
    if (this.options.heartbeatIntervalMs > 0) {
      this.heartbeatTimer = setInterval(() => this.heartbeat(), this.options.heartbeatIntervalMs);
      this.heartbeatTimer.unref?.();
    }
  }

  private async start(): Promise<void> {
    if (this.ownsServer) {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) =>
          reject(
            new WsManagerError(WsManagerErrorCode.HubListen, `hub could not listen: ${error.message}`, {
              cause: error,
            }),
          );
        this.server.once('error', onError);
        this.server.listen(this.options.port, this.options.host, () => {
          this.server.off('error', onError);
          resolve();
        });
      });
    }
    const broker = this.options.broker;
    if (broker !== undefined) {
      try {
        await broker.subscribe((topic, payload) => this.onBrokerMessage(topic, payload));
      } catch (error) {
        throw new WsManagerError(WsManagerErrorCode.Broker, 'hub broker subscribe failed', { cause: error });
      }
    }
    this.listening = true;
  }

  /** Resolves when the hub listens (own server) and its broker is subscribed; rejects with `E_WS_HUB_LISTEN` / `E_WS_BROKER`. */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  /** The bound address when the hub owns its server (after `ready()`). */
  address(): AddressInfo | undefined {
    const address = this.server.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  // ---------------------------------------------------------------- upgrade / connection

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = this.options.path;
    if (path !== undefined && (request.url ?? '/').split('?')[0] !== path) {
      // Someone else's upgrade path on a shared server: leave it alone.
      if (this.ownsServer) reject(socket, 404);
      return;
    }
    socket.on('error', noop);
    if (this.closed) {
      reject(socket, 503);
      return;
    }
    const authenticate = this.options.authenticate;
    if (authenticate === undefined) {
      this.wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws, undefined));
      return;
    }
    Promise.resolve()
      .then(() => authenticate(request))
      .then(
        (result) => {
          if (this.closed) {
            reject(socket, 503);
            return;
          }
          if (result === false || result === null || result === undefined) {
            this.rejectAuth(socket, UNAUTHORIZED);
            return;
          }
          if (isAuthRejection(result)) {
            this.rejectAuth(socket, toUpgradeRefusal(result));
            return;
          }
          const principal = typeof result === 'object' ? (result as Record<string, unknown>) : undefined;
          this.wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws, principal));
        },
        // A thrown AuthRejection is honoured like a returned one; any other throw is a 401.
        (error: unknown) => this.rejectAuth(socket, isAuthRejection(error) ? toUpgradeRefusal(error) : UNAUTHORIZED),
      )
      // e.g. a refusal whose `headers` getter throws: never an unhandled rejection, just drop the request.
      .catch(() => socket.destroy());
  };

  private rejectAuth(socket: Duplex, refusal: UpgradeRefusal): void {
    this.counters.authRejected++;
    const key = String(refusal.status);
    this.authRejectedByStatus[key] = (this.authRejectedByStatus[key] ?? 0) + 1;
    if (channels.hub.hasSubscribers) {
      channels.hub.publish({
        component: this.name,
        event: 'auth-rejected',
        status: refusal.status,
        reason: refusal.body === '' ? statusText(refusal.status) : refusal.body,
      });
    }
    writeUpgradeRefusal(socket, refusal);
  }

  private onConnection(ws: WebSocket, principal: Record<string, unknown> | undefined): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    const client = new HubClient(
      this.nextClientId++,
      ws,
      principal,
      this.options.inboundRatePerSecond,
      this.options.inboundBurst,
    );
    this.clients.add(client);
    this.counters.connections++;
    this.publishEvent('connection', client);
    ws.on('error', noop);
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => this.onClientMessage(client, data as Buffer, isBinary));
    ws.on('close', () => this.dropClient(client));
  }

  private dropClient(client: HubClient): void {
    if (!this.clients.delete(client)) return;
    this.counters.disconnects++;
    for (const topic of client.topics.values()) detach(topic, client);
    client.topics.clear();
    client.pending = undefined;
    this.conflating.delete(client);
    this.publishEvent('disconnect', client);
  }

  // ---------------------------------------------------------------- client protocol

  private onClientMessage(client: HubClient, data: Buffer, isBinary: boolean): void {
    client.alive = true;
    if (!client.bucket.tryTake()) {
      client.rateLimited++;
      this.counters.rateLimited++;
      // Answer the first violation of a burst only, so a flood does not turn into an outbound flood.
      if (client.rateLimited === 1 || client.rateLimited % 100 === 0) {
        this.sendControl(client, { type: 'error', code: 'rate_limited', message: 'inbound rate limit exceeded' });
        this.publishEvent('rate-limited', client);
      }
      return;
    }
    const request = parseClientRequest(data, isBinary);
    if (typeof request === 'string') {
      this.counters.badRequests++;
      this.sendControl(client, { type: 'error', code: 'bad_request', message: request });
      return;
    }
    if (request.op === 'ping') {
      this.sendControl(client, { type: 'pong', id: request.id });
      return;
    }
    if (request.op === 'unsubscribe') {
      const topic = client.topics.get(request.topic);
      if (topic !== undefined) {
        detach(topic, client);
        client.topics.delete(request.topic);
      }
      client.pending?.delete(request.topic);
      this.sendControl(client, { type: 'unsubscribed', topic: request.topic, id: request.id });
      return;
    }
    const authorize = this.options.authorize;
    if (authorize !== undefined) {
      let allowed = false;
      try {
        allowed = authorize(client.principal, request.topic) === true;
      } catch {
        allowed = false;
      }
      if (!allowed) {
        this.counters.forbidden++;
        if (channels.hub.hasSubscribers) {
          channels.hub.publish({ component: this.name, event: 'forbidden', clientId: client.id, topic: request.topic });
        }
        this.sendControl(client, {
          type: 'error',
          code: 'forbidden',
          message: 'not authorized for this topic',
          id: request.id,
        });
        return;
      }
    }
    if (!client.topics.has(request.topic) && client.topics.size >= this.options.maxTopicsPerClient) {
      this.sendControl(client, {
        type: 'error',
        code: 'too_many_topics',
        message: `at most ${this.options.maxTopicsPerClient} topics per client`,
        id: request.id,
      });
      return;
    }
    const topic = this.topicFor(request.topic);
    let replay: Buffer[] | undefined;
    let held = false;
    if (request.offset !== undefined && this.holds(topic, request.offset, request.epoch)) {
      held = true;
      this.counters.resumesHeld++;
    } else if (request.offset !== undefined) {
      replay = topic.framesAfter(request.offset, request.epoch);
      if (replay === undefined) {
        this.counters.resnapshots++;
        this.sendControl(client, {
          type: 'resnapshot',
          topic: topic.name,
          epoch: topic.epoch,
          offset: topic.offset,
          id: request.id,
        });
      } else {
        this.counters.resumes++;
      }
    }
    this.sendControl(client, {
      type: 'subscribed',
      topic: topic.name,
      epoch: topic.epoch,
      // A held client is told its own offset: what it gets next follows it.
      offset: held ? (request.offset as number) : topic.offset,
      id: request.id,
    });
    if (replay !== undefined) for (const frame of replay) this.sendFrame(client, topic.name, frame);
    client.topics.set(topic.name, topic);
    detach(topic, client); // a repeated subscribe starts over
    if (held) {
      client.pending?.delete(topic.name);
      topic.waiting ??= new Map();
      topic.waiting.set(client, { after: request.offset as number, id: request.id });
      return;
    }
    topic.subscribers.add(client);
  }

  /**
   * Whether a resume from `offset` is held until the topic passes it rather than answered at once. Only with a fixed
   * epoch that the client's matches, and either:
   * - the topic has no message yet: this hub does not know where the log stands for it (it may be fed from a
   *   checkpoint, or have evicted the topic), so even `offset` 0 waits for the first record to decide;
   * - the topic is numbered from the log and the client is ahead of it (this hub has not caught up yet).
   * Locally counted topics restart at 1 in every process, so a client ahead of one gets `resnapshot`.
   */
  private holds(topic: HubTopic, offset: number, epoch: string | undefined): boolean {
    if (this.options.epoch === undefined || epoch !== topic.epoch) return false;
    if (topic.offset === 0 && !topic.logNumbered) return true;
    return topic.logNumbered && offset > topic.offset;
  }

  private sendControl(client: HubClient, message: Record<string, unknown>): void {
    if (client.closing || client.ws.readyState !== client.ws.OPEN) return;
    client.ws.send(JSON.stringify(message));
  }

  private topicFor(name: string): HubTopic {
    let topic = this.topics.get(name);
    if (topic === undefined) {
      if (this.topics.size >= this.options.maxTopics) this.evictTopic();
      topic = new HubTopic(name, this.options.historyMaxMessages, this.options.epoch);
      this.topics.set(name, topic);
    }
    return topic;
  }

  /** Drops the oldest topic that nobody is subscribed to (Map order is creation order). */
  private evictTopic(): void {
    for (const [name, topic] of this.topics) {
      if (topic.subscriberCount === 0) {
        this.topics.delete(name);
        this.counters.topicsEvicted++;
        return;
      }
    }
  }

  // ---------------------------------------------------------------- publish / fan-out

  /**
   * Publishes `message` (JSON-serializable) to `topic`: serialized once, sent as the same Buffer to every local
   * subscriber, stored in the topic's history, and forwarded to the broker. Returns the message's offset in the topic.
   *
   * `options.offset` numbers the message from a durable log (see {@link PublishOptions.offset}): it must be an integer
   * >= 1 (else `E_WS_INVALID_OPTION`, field `offset`); a message whose offset is not greater than the topic's current
   * offset is a duplicate: dropped before serialization (not forwarded to the broker), counted in `duplicatesDropped`,
   * and the topic's current offset is returned. Without it the offset is the topic's current offset + 1.
   */
  publish(topic: string, message: unknown, options?: PublishOptions): number {
    if (this.closed) throw new WsManagerError(WsManagerErrorCode.Closed, 'hub is closed');
    if (typeof topic !== 'string' || topic.length === 0) {
      throw new WsManagerError(WsManagerErrorCode.INVALID_OPTION, 'topic must be a non-empty string', {
        field: 'topic',
      });
    }
    const offset = options?.offset;
    if (offset !== undefined) {
      if (!isLogOffset(offset)) {
        throw new WsManagerError(WsManagerErrorCode.INVALID_OPTION, 'offset must be an integer >= 1', {
          field: 'offset',
        });
      }
      const existing = this.topics.get(topic);
      if (existing !== undefined && offset <= existing.offset) {
        this.counters.duplicatesDropped++;
        return existing.offset;
      }
    }
    const json = JSON.stringify(message);
    if (json === undefined) {
      throw new WsManagerError(WsManagerErrorCode.INVALID_OPTION, 'message is not JSON-serializable', {
        field: 'message',
      });
    }
    const broker = this.options.broker;
    if (broker !== undefined) {
      this.counters.brokerOut++;
      try {
        // `<instanceId>[ <offset>]\n<json>`: a hub that does not know offsets reads the first line as a foreign origin.
        const origin = offset === undefined ? this.instanceId : `${this.instanceId} ${offset}`;
        const pending = broker.publish(topic, `${origin}\n${json}`);
        if (pending !== undefined) pending.catch((error: unknown) => this.onBrokerError(error));
      } catch (error) {
        this.onBrokerError(error);
      }
    }
    return this.deliver(topic, json, offset);
  }

  private onBrokerError(error: unknown): void {
    this.counters.brokerErrors++;
    if (channels.hub.hasSubscribers) {
      channels.hub.publish({
        component: this.name,
        event: 'broker-error',
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private onBrokerMessage(topic: string, payload: string): void {
    if (this.closed) return;
    const newline = payload.indexOf('\n');
    if (newline < 0) {
      this.onBrokerError(new Error('malformed broker payload'));
      return;
    }
    const header = payload.slice(0, newline);
    const space = header.indexOf(' ');
    // Our own messages were delivered locally at publish time.
    if ((space < 0 ? header : header.slice(0, space)) === this.instanceId) return;
    let offset: number | undefined;
    if (space >= 0) {
      offset = Number(header.slice(space + 1));
      if (!isLogOffset(offset)) {
        this.onBrokerError(new Error('malformed broker payload offset'));
        return;
      }
    }
    this.counters.brokerIn++;
    this.deliver(topic, payload.slice(newline + 1), offset);
  }

  private deliver(name: string, json: string, offset: number | undefined): number {
    const topic = this.topicFor(name);
    if (offset !== undefined && offset <= topic.offset) {
      // The same log record again (e.g. from another hub through the broker).
      this.counters.duplicatesDropped++;
      return topic.offset;
    }
    const frame = topic.append(json, offset);
    this.counters.published++;
    for (const client of topic.subscribers) this.sendFrame(client, name, frame);
    if (topic.waiting !== undefined) this.releaseWaiting(topic, frame, offset !== undefined);
    return topic.offset;
  }

  /**
   * After a message was appended: clients held on the topic whose resume offset it has now passed either get the
   * message (every message of the topic after their offset is known here: it is the only one) or, when the topic's
   * knowledge starts after their offset (this hub was fed from a later point of the log) or the message was counted
   * locally, a `resnapshot`. Either way they are subscribed from then on.
   */
  private releaseWaiting(topic: HubTopic, frame: Buffer, logNumbered: boolean): void {
    const waiting = topic.waiting as Map<HubClient, Waiting>;
    for (const [client, entry] of waiting) {
      if (topic.offset <= entry.after) continue;
      waiting.delete(client);
      if (logNumbered && entry.after >= topic.knownAfter) {
        this.counters.resumes++;
        this.sendFrame(client, topic.name, frame);
      } else {
        this.counters.resnapshots++;
        this.sendControl(client, {
          type: 'resnapshot',
          topic: topic.name,
          epoch: topic.epoch,
          offset: topic.offset,
          id: entry.id,
        });
      }
      topic.subscribers.add(client);
    }
    if (waiting.size === 0) topic.waiting = undefined;
  }

  private sendFrame(client: HubClient, topic: string, frame: Buffer): void {
    if (client.closing) return;
    const pending = client.pending;
    if (pending !== undefined) {
      // Conflating: keep only the latest frame per topic, most recent last.
      if (pending.delete(topic)) {
        client.conflated++;
        this.counters.conflated++;
      }
      pending.set(topic, frame);
      return;
    }
    const limit = this.options.maxBufferedBytes;
    if (!this.admits(client, client.ws.bufferedAmount, frame.length, limit)) {
      if (this.options.slowConsumer === 'disconnect') {
        this.disconnectSlow(client);
        return;
      }
      this.counters.slowConsumerConflations++;
      client.pending = new Map([[topic, frame]]);
      this.conflating.add(client);
      this.publishEvent('slow-consumer', client, 'conflate');
      this.ensureFlushTimer();
      return;
    }
    this.write(client, frame, limit);
  }

  /**
   * Whether a frame of `length` bytes may be written to a client with `buffered` bytes queued. The bound is
   * `limit`, raised by the size of an oversized frame still in flight; a frame larger than the whole bound goes out
   * when nothing is queued (a big snapshot must get through). So a client's queue stays under
   * `limit` + its largest frame.
   */
  private admits(client: HubClient, buffered: number, length: number, limit: number): boolean {
    if (buffered === 0) return true;
    let bound = limit;
    if (client.oversizeAllowance > 0) {
      if (buffered <= limit) client.oversizeAllowance = 0;
      else bound += client.oversizeAllowance;
    }
    return buffered + length <= bound;
  }

  /** Writes one data frame to the client's socket and counts it (`oversizedFrames` when it alone exceeds `limit`). */
  private write(client: HubClient, frame: Buffer, limit: number): void {
    if (frame.length > limit) {
      client.oversizeAllowance = frame.length;
      this.counters.oversizedFrames++;
      this.publishEvent('oversized-frame', client, String(frame.length));
    }
    client.ws.send(frame, TEXT);
    client.framesSent++;
    this.counters.framesSent++;
  }

  private disconnectSlow(client: HubClient): void {
    client.closing = true;
    this.counters.slowConsumerDisconnects++;
    this.publishEvent('slow-consumer', client, 'disconnect');
    for (const topic of client.topics.values()) detach(topic, client);
    client.topics.clear();
    client.ws.close(this.options.slowConsumerCloseCode, 'slow consumer');
    // The close frame waits behind the buffered data; do not let a stuck client hold the memory.
    const timer = setTimeout(() => client.ws.terminate(), 2_000);
    timer.unref?.();
  }

  private ensureFlushTimer(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setInterval(() => this.flushConflated(), this.options.flushIntervalMs);
    this.flushTimer.unref?.();
  }

  /**
   * Sends conflated frames to clients whose sockets drained below half the bound, oldest first, while they fit in the
   * bound; a frame larger than the whole bound is sent once the socket is empty (never held forever).
   */
  private flushConflated(): void {
    const limit = this.options.maxBufferedBytes;
    for (const client of this.conflating) {
      const pending = client.pending;
      if (pending === undefined || client.closing) {
        this.conflating.delete(client);
        continue;
      }
      const ws = client.ws;
      if (ws.bufferedAmount > limit / 2) continue;
      for (const [topic, frame] of pending) {
        if (!this.admits(client, ws.bufferedAmount, frame.length, limit)) break;
        pending.delete(topic);
        this.write(client, frame, limit);
      }
      if (pending.size === 0) {
        client.pending = undefined;
        this.conflating.delete(client);
      }
    }
    if (this.conflating.size === 0 && this.flushTimer !== undefined) {
      clearInterval(this.flushTimer);
      this.flushTimer = undefined;
    }
  }

  private heartbeat(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        this.counters.heartbeatTerminations++;
        this.publishEvent('heartbeat-timeout', client);
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      try {
        client.ws.ping();
      } catch {
        // closing; the close handler cleans up
      }
    }
  }

  private publishEvent(event: string, client: HubClient | undefined, reason?: string): void {
    if (!channels.hub.hasSubscribers) return;
    channels.hub.publish({ component: this.name, event, clientId: client?.id, reason });
  }

  // ---------------------------------------------------------------- stats / health / close

  /** A cheap plain snapshot of the hub (see README "Stats"). */
  stats(): Record<string, unknown> {
    let historyMessages = 0;
    let subscriptions = 0;
    let resumesWaiting = 0;
    for (const topic of this.topics.values()) {
      historyMessages += topic.historyLength;
      subscriptions += topic.subscriberCount;
      resumesWaiting += topic.waiting?.size ?? 0;
    }
    return {
      name: this.name,
      listening: this.listening && !this.closed,
      clients: this.clients.size,
      topics: this.topics.size,
      subscriptions,
      conflatingClients: this.conflating.size,
      historyMessages,
      resumesWaiting,
      ...this.counters,
      authRejectedByStatus: { ...this.authRejectedByStatus },
    };
  }

  /** `pass` when listening; `warn` when a broker error happened since the last check; `fail` when closed or not listening. */
  async healthCheck(signal?: AbortSignal): Promise<HealthCheckResult> {
    const time = new Date().toISOString();
    if (signal?.aborted) return { status: 'fail', output: 'health check aborted', time };
    const clients = this.clients.size;
    const base = { observedValue: clients, observedUnit: 'clients', time };
    if (this.closed) return { ...base, status: 'fail', output: 'hub closed' };
    if (!this.listening) return { ...base, status: 'fail', output: 'hub not listening' };
    const brokerErrors = this.counters.brokerErrors - this.lastBrokerErrors;
    this.lastBrokerErrors = this.counters.brokerErrors;
    const details = { topics: this.topics.size, conflatingClients: this.conflating.size, brokerErrors };
    if (brokerErrors > 0)
      return { ...base, status: 'warn', output: `${brokerErrors} broker errors since last check`, details };
    return { ...base, status: 'pass', output: `${clients} clients`, details };
  }

  /** Graceful close: every client gets close code 1001, the server stops (if owned), the broker is closed. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.flushTimer !== undefined) clearInterval(this.flushTimer);
    this.server.off('upgrade', this.onUpgrade);
    await Promise.all(
      [...this.clients].map((client) => {
        client.closing = true;
        return closeSocket(client.ws, 1001, 'hub shutting down');
      }),
    );
    this.wss.close();
    if (this.ownsServer && this.server.listening) {
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    }
    await this.readyPromise.catch(noop);
    if (this.options.broker !== undefined) {
      try {
        await this.options.broker.close();
      } catch (error) {
        this.onBrokerError(error);
      }
    }
  }
}

/** Removes a client from a topic, subscribed or held. */
function detach(topic: HubTopic, client: HubClient): void {
  topic.subscribers.delete(client);
  if (topic.waiting?.delete(client) === true && topic.waiting.size === 0) topic.waiting = undefined;
}

/** A log offset as `publish` accepts it: an integer >= 1 (a safe one, so it prints and compares exactly). */
function isLogOffset(offset: unknown): offset is number {
  return typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 1;
}

/** Refuses an upgrade with an empty-bodied HTTP error. */
function reject(socket: Duplex, status: number): void {
  writeUpgradeRefusal(socket, { status, headerLines: '', body: '' });
}
