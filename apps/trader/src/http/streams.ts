import type { IncomingMessage, Server } from 'node:http';
import type { AuthRejection, StreamHubOptions } from '@cryptoscalp/ws-manager/hub';
import { StreamHub } from '@cryptoscalp/ws-manager/hub';
import type { ResolvedOptions } from './options.js';
import type { HealthCheckResult, Principal } from './types.js';

export type { HealthCheckResult } from './types.js';

/** Options of a publish: the durable log offset the event was received at, when the trader has one. */
export interface PublishOptions {
  offset?: number;
}

/**
 * What the API needs from a live-stream fan-out. {@link createLiveHub} implements it with
 * `@cryptoscalp/ws-manager`'s `StreamHub`; another fan-out can replace it without touching the routes.
 */
export interface LiveHub {
  /** Publishes `data` to the subscribers of `topic` (and keeps it for resume), at `options.offset` when given. */
  publish(topic: string, data: unknown, options?: PublishOptions): void;
  /** Counters. */
  stats(): HubStats;
  /** `StreamHub`'s health: `pass` listening, `warn` broker errors, `fail` closed. */
  healthCheck(): Promise<HealthCheckResult>;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** Closes every client (1001). Idempotent. */
  close(): Promise<void>;
}

/** Counters of a hub. */
export interface HubStats {
  clients: number;
  topics: number;
  published: number;
  delivered: number;
  conflated: number;
  /** Upgrades refused (no or bad token, rate limited, shed). */
  authRejected: number;
}

/** Topics the API publishes, open to every role. */
export const TOPIC_PATTERN = /^(?:(?:prices|book)\.[A-Z0-9][A-Z0-9_-]{0,31}|fills|positions|pnl|alerts)$/;

/** Topics for admins only (`audit`, `admin` and their sub-topics), e.g. published by an operator tool through a broker. */
export const ADMIN_TOPIC_PATTERN = /^(?:audit|admin)(?:\.[A-Za-z0-9_.-]{1,64})?$/;

/**
 * Who may subscribe to `topic`: everyone to the API's topics ({@link TOPIC_PATTERN}), admins also to
 * {@link ADMIN_TOPIC_PATTERN}; any other name is refused (`forbidden`), so a topic added later is closed until listed.
 */
export function topicAllowed(principal: Record<string, unknown> | undefined, topic: string): boolean {
  if (TOPIC_PATTERN.test(topic)) return principal !== undefined;
  return principal?.role === 'admin' && ADMIN_TOPIC_PATTERN.test(topic);
}

/** How the hub authenticates an upgrade: the principal, `false` for 401, or a refusal with its status (429, 503). */
export type UpgradeAuthenticator = (request: IncomingMessage) => Promise<Principal | AuthRejection | false>;

/** `StreamHub.publish` with the `{ offset }` option ws-manager is gaining; older hubs ignore the third argument. */
type PublishWithOffset = (topic: string, message: unknown, options?: PublishOptions) => number;

/**
 * Attaches a `StreamHub` to the HTTP server on `stream.path`. Every upgrade goes through `authenticate` (origin, JWT
 * from `Sec-WebSocket-Protocol: bearer, <jwt>` or `Authorization`, rate limits, load shedding, audit of failures),
 * every subscription through {@link topicAllowed}; the hub does
 * per-topic offsets and history (resume), conflation of slow clients, heartbeats and, with a `broker`, fan-out across
 * API instances. `stream.epoch` is handed to the hub so gateways publishing the trader's log offsets share it.
 */
export function createLiveHub(
  server: Server,
  stream: ResolvedOptions['stream'],
  authenticate: UpgradeAuthenticator,
): LiveHub {
  const hub = new StreamHub({
    name: 'stream-hub',
    server,
    path: stream.path,
    authenticate: async (req) => {
      const result = await authenticate(req);
      return result === false || 'ok' in result ? result : { ...result };
    },
    authorize: topicAllowed,
    maxBufferedBytes: stream.maxBufferedBytes,
    slowConsumer: 'conflate',
    heartbeatIntervalMs: stream.heartbeatIntervalMs,
    maxMessageBytes: stream.maxMessageBytes,
    maxTopicsPerClient: stream.maxTopicsPerClient,
    history: stream.historySize > 0 ? { maxMessages: stream.historySize } : false,
    flushIntervalMs: stream.flushIntervalMs,
    ...(stream.broker === undefined ? {} : { broker: stream.broker }),
    // `epoch` is being added to StreamHubOptions in ws-manager; the cast keeps this compiling before and after.
    ...(stream.epoch === undefined ? {} : ({ epoch: stream.epoch } as Partial<StreamHubOptions>)),
  });
  const publish = hub.publish.bind(hub) as PublishWithOffset;
  let closed = false;
  return {
    publish(topic, data, options) {
      if (closed) return;
      if (options === undefined) publish(topic, data);
      else publish(topic, data, options);
    },
    stats() {
      const s = hub.stats() as Record<string, number>;
      return {
        clients: s.clients ?? 0,
        topics: s.topics ?? 0,
        published: s.published ?? 0,
        delivered: s.framesSent ?? 0,
        conflated: s.conflated ?? 0,
        authRejected: s.authRejected ?? 0,
      };
    },
    healthCheck: () => hub.healthCheck(),
    get closed() {
      return closed;
    },
    close() {
      closed = true;
      return hub.close();
    },
  };
}
