import type { Command, CommandHandler, CommandReply } from '../types.js';

/** Code of the reply to a command that reached the engine after its deadline. */
export const COMMAND_EXPIRED = 'E_TRADER_COMMAND_EXPIRED';

/**
 * The engine side's rules for one command, shared by the Redis and in-memory buses: a repeated id gets the stored
 * reply (at-most-once application), a command past its deadline is refused unapplied, a throwing handler becomes
 * an `ok: false` reply. The caller runs commands one at a time, so a duplicate never overlaps its original.
 */
export class CommandRunner {
  /** Insertion-ordered, so the oldest reply is the first key: a bounded FIFO of the last `cacheSize` replies. */
  private readonly replies = new Map<string, CommandReply>();
  /** Counters for `stats()`. */
  readonly counts = { handled: 0, expired: 0, duplicates: 0, handlerErrors: 0 };

  constructor(private readonly cacheSize: number) {}

  /** Applies `command` through `handler` at most once and returns the reply to send back. */
  async run(command: Command, handler: CommandHandler, now = Date.now()): Promise<CommandReply> {
    const seen = this.replies.get(command.id);
    if (seen !== undefined) {
      // Checked before the deadline: a duplicate of an applied command must learn that it was applied.
      this.counts.duplicates++;
      return seen;
    }
    if (now > command.deadline) {
      this.counts.expired++;
      return this.remember({
        id: command.id,
        ok: false,
        error: { code: COMMAND_EXPIRED, message: `command ${command.type} arrived ${now - command.deadline} ms late` },
      });
    }
    this.counts.handled++;
    try {
      const result = await handler(command);
      return this.remember({ id: command.id, ok: true, result: result ?? null });
    } catch (e) {
      this.counts.handlerErrors++;
      return this.remember({ id: command.id, ok: false, error: errorOf(e) });
    }
  }

  private remember(reply: CommandReply): CommandReply {
    this.replies.set(reply.id, reply);
    if (this.replies.size > this.cacheSize) {
      const oldest = this.replies.keys().next().value;
      if (oldest !== undefined) this.replies.delete(oldest);
    }
    return reply;
  }
}

/** The `{ code, message, field? }` of whatever a handler threw. */
function errorOf(e: unknown): { code: string; message: string; field?: string } {
  const o = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
  const code = typeof o.code === 'string' ? o.code : 'E_TRADER_COMMAND_FAILED';
  const message = typeof o.message === 'string' ? o.message : String(e);
  return typeof o.field === 'string' ? { code, message, field: o.field } : { code, message };
}
