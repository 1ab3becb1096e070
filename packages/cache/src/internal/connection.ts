import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisSettings } from '../types.js';

/** The ioredis client L2 talks to (standalone, Sentinel or Cluster). */
export type RedisClient = Redis | Cluster;

/** A connection and whether the manager owns (and so closes) it. */
export interface Connection {
  client: RedisClient;
  owned: boolean;
  isCluster: boolean;
}

/**
 * Settings the manager applies to connections it creates (user `options` are merged over them,
 * except `enableAutoPipelining`, which stays on): a command is
 * retried at most once across a reconnect and the offline queue only holds commands issued
 * before the first `ready` (after that the L2 tier fails fast while disconnected), so nothing
 * queues without bound. Reconnects back off up to 2 s.
 */
function baseOptions(commandTimeout: number): RedisOptions {
  return {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: Math.max(1_000, commandTimeout * 4),
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    lazyConnect: false,
  };
}

/**
 * A second connection to the same Redis (the bus subscriber). Narrowed first: ioredis 6 declares
 * `duplicate()` with incompatible generic signatures on `Redis` and `Cluster`, so the union's is not callable.
 */
export function duplicateClient(connection: Connection): RedisClient {
  return connection.isCluster ? (connection.client as Cluster).duplicate() : (connection.client as Redis).duplicate();
}

/** Is this an ioredis client instance (from any copy of ioredis)? */
export function isClient(value: unknown): value is RedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getBuffer?: unknown }).getBuffer === 'function' &&
    typeof (value as { duplicate?: unknown }).duplicate === 'function'
  );
}

/** Creates (or adopts) the main L2 connection. */
export function connect(settings: RedisSettings, commandTimeout: number, name: string): Connection {
  if (isClient(settings)) {
    return { client: settings, owned: false, isCluster: (settings as { isCluster?: boolean }).isCluster === true };
  }
  const base = { ...baseOptions(commandTimeout), connectionName: name };
  if ('cluster' in settings) {
    const options: ClusterOptions = {
      ...settings.options,
      enableAutoPipelining: true,
      enableOfflineQueue: true,
      clusterRetryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
      redisOptions: { ...base, ...settings.options?.redisOptions, enableAutoPipelining: true },
    };
    return { client: new Cluster(settings.cluster, options), owned: true, isCluster: true };
  }
  if ('sentinels' in settings) {
    const client = new Redis({
      ...base,
      ...settings.options,
      enableAutoPipelining: true,
      sentinels: settings.sentinels,
      name: settings.name,
    });
    return { client, owned: true, isCluster: false };
  }
  return {
    client: new Redis(settings.url, { ...base, ...settings.options, enableAutoPipelining: true }),
    owned: true,
    isCluster: false,
  };
}

/** Closes a connection we own: QUIT with a deadline, then a hard disconnect. Never throws. */
export async function closeClient(client: RedisClient, timeoutMs = 1_000): Promise<void> {
  if (client.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
