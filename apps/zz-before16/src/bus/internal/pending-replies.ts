import { randomUUID } from 'node:crypto';
import { TraderError } from '../../errors.js';
import type { CommandReply } from '../types.js';

interface Waiter {
  resolve(reply: CommandReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** One send's wait for its reply, from {@link PendingReplies.wait}. */
export interface ReplyWait {
  /** Resolves with the reply; rejects with `E_TRADER_COMMAND_TIMEOUT`, or as `fail` / `rejectAll` say. */
  readonly reply: Promise<CommandReply>;
  /**
   * Rejects this wait with `error` if it is still waiting (the command could not go out). A no-op once it timed
   * out, so it never touches a later send that reused the id.
   */
  fail(error: Error): void;
}

/**
 * The gateway side's sends waiting for their replies, shared by the Redis and in-memory buses: bounded, keyed by
 * command id, each with its own timeout; replies nobody waits for any more are counted, not kept.
 */
export class PendingReplies {
  private readonly waiting = new Map<string, Waiter>();
  /** Counters for `stats()`. */
  readonly counts = { replied: 0, timeouts: 0, lateReplies: 0 };

  constructor(private readonly maxPending: number) {}

  /** Sends waiting now. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * Admits one more send and returns its command id (`id`, or a new uuid).
   * @param backlog commands held elsewhere that count against the same bound (the in-memory bus's queue, which like
   * the Redis stream also holds commands whose sender gave up).
   * @throws TraderError `E_TRADER_BUS` when `maxPending` sends (or `backlog` commands) wait already, or `id` is the id
   * of a send still waiting (its reply could not be told apart).
   */
  admit(id: string | undefined, backlog = 0): string {
    if (this.waiting.size >= this.maxPending || backlog >= this.maxPending)
      throw new TraderError('E_TRADER_BUS', `${this.waiting.size} commands already waiting`);
    const admitted = id ?? randomUUID();
    if (this.waiting.has(admitted))
      throw new TraderError('E_TRADER_BUS', `command ${admitted} is already waiting for its reply`);
    return admitted;
  }

  /** Starts waiting for the reply to command `id` (of type `type`, for the timeout message) for `timeoutMs`. */
  wait(id: string, type: string, timeoutMs: number): ReplyWait {
    let waiter: Waiter | undefined;
    const reply = new Promise<CommandReply>((resolve, reject) => {
      waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiting.delete(id);
          this.counts.timeouts++;
          reject(new TraderError('E_TRADER_COMMAND_TIMEOUT', `no reply to command ${type} (${id}) in ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiting.set(id, waiter);
    });
    return {
      reply,
      fail: (error) => {
        if (waiter === undefined || this.waiting.get(id) !== waiter) return;
        this.waiting.delete(id);
        clearTimeout(waiter.timer);
        waiter.reject(error);
      },
    };
  }

  /** The counters and the `pending` gauge for `stats()`. */
  stats(): Record<string, number> {
    return { ...this.counts, pending: this.waiting.size };
  }

  /** Hands `reply` to the send waiting for it; false (and counted as late) when none is: it timed out, or a duplicate. */
  settle(reply: CommandReply): boolean {
    const waiter = this.waiting.get(reply.id);
    if (waiter === undefined) {
      this.counts.lateReplies++;
      return false;
    }
    this.waiting.delete(reply.id);
    clearTimeout(waiter.timer);
    this.counts.replied++;
    waiter.resolve(reply);
    return true;
  }

  /** Rejects every waiting send with `E_TRADER_BUS`: the bus is closing and no reply will come. */
  rejectAll(): void {
    for (const [id, waiter] of this.waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(new TraderError('E_TRADER_BUS', `command bus closed before the reply to ${id}`));
    }
    this.waiting.clear();
  }
}
