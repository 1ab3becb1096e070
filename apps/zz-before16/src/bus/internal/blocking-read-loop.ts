import type { Redis } from 'ioredis';
import { TimeoutError, withTimeout } from '../../internal/with-timeout.js';
import type { RedisTarget } from '../types.js';
import { openBlockingClient } from './redis-connection.js';
import { Sleeper } from './sleeper.js';
import { BACKOFF_MIN_MS, BLOCK_GRACE_MS, BLOCK_MS, nextBackoff } from './timing.js';

/** What a {@link BlockingReadLoop} tells its owner, for the owner's counters. */
export interface ReadLoopHooks {
  /** An error event of the loop's connection (ioredis reconnects on its own). */
  onConnectionError(error: Error): void;
  /** A step failed; the loop backs off next. */
  onReadError(): void;
  /** The loop is about to try again after its backoff. */
  onReconnect(): void;
  /** A connection was opened for the loop (the first one, or a replacement). */
  onOpen?(client: Redis): void;
}

/** Hooks that only count, into the owner's `stats()` counters of the same names. */
export function countingHooks(counts: { connectionErrors: number; readErrors: number; reconnects: number }) {
  return {
    onConnectionError: () => {
      counts.connectionErrors++;
    },
    onReadError: () => {
      counts.readErrors++;
    },
    onReconnect: () => {
      counts.reconnects++;
    },
  } satisfies ReadLoopHooks;
}

/**
 * A read loop on a blocking connection of its own (XREAD BLOCK would stall every other command on a shared one),
 * shared by the event log's tails and the command bus's reply and command readers. It runs a step until stopped;
 * after a failed step it backs off (cut short by `stop()`), and when a read got no answer at all it replaces the
 * connection, since ioredis would otherwise keep waiting on a frozen server or a half-open socket.
 */
export class BlockingReadLoop {
  /** True between a failed step and the next read that answers. */
  failing = false;
  private current: Redis;
  private stopped = false;
  private backoff = BACKOFF_MIN_MS;
  private readonly sleeper = new Sleeper();

  constructor(
    private readonly target: RedisTarget,
    private readonly hooks: ReadLoopHooks,
  ) {
    this.current = this.open();
  }

  /** The loop's connection right now (a replacement after a dead link). */
  get client(): Redis {
    return this.current;
  }

  /** True once `stop()` was called. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Runs `step` until `stop()`; resolves when the loop has ended and its connection is closed.
   * @param onFailure sees each failed step's error first, e.g. to redo some setup on the next step.
   */
  async run(step: () => Promise<void>, onFailure?: (error: unknown) => void): Promise<void> {
    while (!this.stopped) {
      try {
        await step();
      } catch (e) {
        if (this.stopped) break;
        onFailure?.(e);
        this.hooks.onReadError();
        this.failing = true;
        if (e instanceof TimeoutError) {
          // No answer at all (server frozen, half-open socket): drop this connection and open a fresh one.
          this.current.disconnect();
          this.current = this.open();
        }
        await this.sleeper.sleep(this.backoff);
        this.backoff = nextBackoff(this.backoff);
        this.hooks.onReconnect();
      }
    }
    this.current.disconnect();
  }

  /**
   * One blocking read on the loop's connection: `call` gets the client and the BLOCK time to pass to Redis, and is
   * given that plus a grace before it counts as a dead link. Any answer (an empty one too) ends the failing state
   * and resets the backoff.
   */
  async read<R>(call: (client: Redis, blockMs: number) => Promise<R>, what: string): Promise<R> {
    const reply = await withTimeout(call(this.current, BLOCK_MS), BLOCK_MS + BLOCK_GRACE_MS, what);
    this.failing = false;
    this.backoff = BACKOFF_MIN_MS;
    return reply;
  }

  /** Ends the loop after the step in hand; interrupts a blocking read and a backoff at once. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sleeper.wake();
    this.current.disconnect();
  }

  private open(): Redis {
    const client = openBlockingClient(this.target, (e) => this.hooks.onConnectionError(e));
    this.hooks.onOpen?.(client);
    return client;
  }
}
