import type { IncomingMessage, Server } from 'node:http';
import type { HubBroker } from '@cryptoscalp/ws-manager';
import { StreamHub } from '@cryptoscalp/ws-manager';
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
 * What the API needs from a live-stream fan-out. {@link createLiveHub} implements it with
 * `@cryptoscalp/ws-manager`'s `StreamHub`; another fan-out can replace it without touching the routes.
 */
export interface LiveHub {
  /** Publishes `data` to the subscribers of `topic` (and keeps it for resume). */
  publish(topic: string, data: unknown): void;
  /** Counters. */
  stats(): HubStats;
  /** `StreamHub`'s health: `pass` listening, `warn` broker errors, `fail` closed. */
  healthCheck(): Promise<HealthCheckResult>;
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
  /** Upgrades refused (no or bad token, rate limited). */
  authRejected: number;
}

/** Topics the API publishes. Clients may subscribe to other names, which simply never receive anything. */
export const TOPIC_PATTERN = /^(?:(?:prices|book)\.[A-Z0-9][A-Z0-9_-]{0,31}|fills|positions|pnl|alerts)$/;

/** How the hub authenticates an upgrade: the principal, or `false` for 401. */
export type UpgradeAuthenticator = (request: IncomingMessage) => Promise<Principal | false>;

/**
 * Attaches a `StreamHub` to the API's HTTP server on `stream.path`. Every upgrade goes through
 * `authenticate` (JWT from `Sec-WebSocket-Protocol: bearer, <jwt>` or `?token=`, rate limits, audit of
 * failures); the hub does per-topic offsets and history (resume), conflation of slow clients, heartbeats
 * and, with a `broker`, fan-out across API instances.
 */
export function createLiveHub(
  server: Server,
  stream: Required<StreamOptions>,
  authenticate: UpgradeAuthenticator,
  broker?: HubBroker,
): LiveHub {
  const hub = new StreamHub({
    name: 'stream-hub',
    server,
    path: stream.path,
    authenticate: async (req) => {
      const principal = await authenticate(req);
      return principal === false ? false : { ...principal };
    },
    maxBufferedBytes: stream.maxBufferedBytes,
    slowConsumer: 'conflate',
    heartbeatIntervalMs: stream.heartbeatIntervalMs,
    maxMessageBytes: stream.maxMessageBytes,
    maxTopicsPerClient: stream.maxTopicsPerClient,
    history: stream.historySize > 0 ? { maxMessages: stream.historySize } : false,
    flushIntervalMs: stream.flushIntervalMs,
    ...(broker === undefined ? {} : { broker }),
  });
  let closed = false;
  return {
    publish(topic, data) {
      if (!closed) hub.publish(topic, data);
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
    close() {
      closed = true;
      return hub.close();
    },
  };
}
