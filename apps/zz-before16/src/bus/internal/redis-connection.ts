import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { withTimeout } from '../../internal/with-timeout.js';
import type { RedisTarget } from '../types.js';
import { PING_TIMEOUT_MS } from './timing.js';

/** A client and whether the bus created it (and so must close it). */
export interface OwnedClient {
  readonly client: Redis;
  readonly owned: boolean;
  /** Removes the bus's error listener (from a caller's client, which outlives the bus). */
  detach(): void;
}

/**
 * Settings of the clients the bus creates from a URL. Commands fail fast while the server is away
 * (`maxRetriesPerRequest: 1`) because the bus retries on its own terms (in order, with backoff, counted); ioredis
 * keeps reconnecting in the background.
 */
const OWN_CLIENT_OPTIONS = {
  // Connect on the first command, so a bus that is constructed and never started holds no socket.
  lazyConnect: true,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  retryStrategy: (attempt: number) => Math.min(50 * attempt, 1_000),
} as const;

/** The main (non-blocking) client: the caller's, or a new one from the URL. Errors go to `onError`, never unhandled. */
export function openClient(target: RedisTarget, onError: (error: Error) => void): OwnedClient {
  if (typeof target === 'string') {
    const client = new Redis(target, OWN_CLIENT_OPTIONS);
    client.on('error', onError);
    return { client, owned: true, detach: () => client.off('error', onError) };
  }
  // The caller's client is theirs to configure; a listener of our own still makes sure we see (and count) errors.
  target.on('error', onError);
  return { client: target, owned: false, detach: () => target.off('error', onError) };
}

/**
 * A connection for blocking reads (XREAD BLOCK would stall every other command on a shared connection): a
 * duplicate of the caller's client or a new one from the URL. Always owned by the bus.
 */
export function openBlockingClient(target: RedisTarget, onError: (error: Error) => void): Redis {
  const client = typeof target === 'string' ? new Redis(target, OWN_CLIENT_OPTIONS) : target.duplicate();
  client.on('error', onError);
  return client;
}

/** Closes a client the bus owns: QUIT if it answers soon, else drops the socket. Never throws. */
export async function closeClient(client: Redis, timeoutMs = 1_000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'wait') {
    client.disconnect();
    return;
  }
  const timer = setTimeout(() => client.disconnect(), timeoutMs);
  try {
    await client.quit();
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects as soon as `signal` aborts (a health check must honour its timeout). */
export function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new Error('health check aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('health check aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** What {@link pingRoundTrip} measured: the round trip, and the error when there was no good answer. */
export interface PingResult {
  readonly rttMs: number;
  readonly error: Error | undefined;
}

/**
 * PINGs for a health check: the round trip in ms (also when it failed, so the check still reports how long it
 * waited), bounded by {@link PING_TIMEOUT_MS} and by the check's `signal`. Never throws.
 */
export async function pingRoundTrip(client: Redis, signal: AbortSignal | undefined): Promise<PingResult> {
  const t0 = performance.now();
  let error: Error | undefined;
  try {
    await withSignal(withTimeout(client.ping(), PING_TIMEOUT_MS, 'PING'), signal);
  } catch (e) {
    error = e as Error;
  }
  return { rttMs: performance.now() - t0, error };
}

/** The flat `[field, value, field, value]` list of a stream entry as a lookup. */
export function entryField(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length - 1; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
