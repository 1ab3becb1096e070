import { createHash } from 'node:crypto';

/** What {@link ReplayCheck.check} makes of one row read. */
export type ReplayVerdict = 'deliver' | 'seen';

/** The digest of one stream entry: every field (time, writer, data), so a record rewritten by anyone else differs. */
export function entryDigest(fields: readonly string[]): string {
  const h = createHash('sha1');
  for (const f of fields) h.update(f).update('\0');
  return h.digest('base64');
}

/**
 * A tail's memory of what it delivered last (offset and digest of each entry, at most `capacity`), to check the
 * stream again after each reconnection. The server on the other side may be another one (a promoted replica) or the
 * same one restarted from its AOF, and may have lost the last entries this tail delivered: its writer re-appends
 * them, and they must come back identical. So after a reconnection the tail reads its remembered entries again:
 * each must be there, in order, with the same digest ('seen', not delivered twice); only then does delivery go on.
 * An entry that differs or is missing while later ones exist means readers saw a history the stream no longer has:
 * {@link check} throws, and the tail stops rather than deliver a different history under the same offsets.
 */
export class ReplayCheck {
  #offsets: number[] = [];
  #digests: string[] = [];
  #start = 0;
  /** While checking: index (in the arrays) of the next entry expected again, and the last offset to check. */
  #next = -1;
  #until = 0;
  #first = false;

  constructor(private readonly capacity: number) {}

  /** True while remembered entries are being read again. */
  get checking(): boolean {
    return this.#next >= 0;
  }

  /** Remembers one delivered entry. */
  delivered(offset: number, digest: string): void {
    this.#offsets.push(offset);
    this.#digests.push(digest);
    if (this.#offsets.length - this.#start > this.capacity) this.#start = this.#offsets.length - this.capacity;
    if (this.#start >= this.capacity && !this.checking) {
      this.#offsets = this.#offsets.slice(this.#start);
      this.#digests = this.#digests.slice(this.#start);
      this.#start = 0;
    }
  }

  /**
   * After a reconnection of a tail that delivered up to `after`: starts checking the remembered entries.
   * @returns the offset to read after (before the oldest remembered entry), or `after` when nothing is remembered.
   */
  rewind(after: number): number {
    const oldest = this.#offsets[this.#start];
    if (oldest === undefined || oldest > after) return after;
    this.#next = this.#start;
    this.#until = after;
    this.#first = true;
    return oldest - 1;
  }

  /** Forgets everything (the log was recreated: a new offset space). */
  clear(): void {
    this.#offsets = [];
    this.#digests = [];
    this.#start = 0;
    this.#next = -1;
  }

  /**
   * One row read, in stream order: `seen` (a remembered entry, back identical), or `deliver` (new).
   * @throws Error naming the offset when the stream no longer holds what was delivered under it.
   */
  check(offset: number, digest: string): ReplayVerdict {
    if (this.#next < 0) return 'deliver';
    const offsets = this.#offsets;
    // The oldest remembered entries may have been trimmed meanwhile (MAXLEN trims the head, never the middle): on
    // the first row, the check starts where the stream does.
    if (this.#first) {
      this.#first = false;
      while (offset <= this.#until && this.#next < offsets.length - 1 && offset > (offsets[this.#next] as number))
        this.#next++;
    }
    if (offset > this.#until) {
      if (this.#next < offsets.length)
        throw new Error(
          `the event stream no longer holds offsets ${offsets[this.#next]}..${this.#until} that this reader delivered (it goes on at ${offset})`,
        );
      this.#next = -1;
      return 'deliver';
    }
    const want = offsets[this.#next];
    if (want !== undefined) {
      if (offset !== want)
        throw new Error(
          `the event stream no longer holds offset ${want} that this reader delivered (it has ${offset} next)`,
        );
      if (this.#digests[this.#next] !== digest)
        throw new Error(
          `the event stream's entry at offset ${offset} differs from the one this reader delivered: two histories under the same offsets`,
        );
      this.#next++;
    }
    if (offset >= this.#until) this.#next = -1;
    return 'seen';
  }
}
