import { performance } from 'node:perf_hooks';

/** Receives the scrape text one slice at a time; a returned promise is awaited (backpressure). */
export type ChunkSink = (chunk: string) => void | Promise<void>;

/** Strings pushed before they are joined and encoded: bounds what is alive on the JS heap at any time. */
const BATCH = 128;
/** Size of the byte arena (reused: its pages are touched once, see below). */
const ARENA_BYTES = 512 * 1024;
/**
 * Without a sink, the arena's bytes are decoded into a piece of the result at the start of the first
 * slice after this many are written (or when the arena is full). A string this long is allocated in V8's
 * large-object space, which the scavenger never copies.
 */
const PIECE_BYTES = 256 * 1024;

/** The arena of the last scrape that ended, for the next one (a scrape that throws just drops its own). */
let spareArena: Buffer | undefined;

/**
 * Collects the scrape text and tracks the time budget of the current synchronous slice.
 *
 * Why bytes and not strings: what makes a slice longer than its budget is memory work, not the slice's
 * own code. A young-generation scavenge costs what is still alive, copied and then promoted into fresh
 * old-space pages, and touching fresh pages is itself slow (~3 ms per MB measured on the 2-core VM of the
 * benches, against 0.03 ms per MB copied into pages already touched).
 * Text kept as strings until the scrape ends (every line, or one chunk per slice) is alive at every
 * scavenge of the scrape. Here every {@link BATCH} pushed strings are joined and encoded as UTF-8 into a
 * reused Buffer arena, so the strings die young; without a sink, every {@link PIECE_BYTES} of the arena
 * are decoded into a piece of the result, allocated in large-object space (never copied), and the
 * pieces are linked with `+` (a rope, never one multi-megabyte copy). With a sink, each slice's bytes
 * are decoded into the chunk it receives.
 */
export class ChunkWriter {
  private parts: string[] = [];
  private arena: Buffer;
  /** Bytes of the arena in use. */
  private used = 0;
  /** True while the arena's bytes are all ASCII (then decoding them as Latin-1 is exact and cheaper). */
  private ascii = true;
  /** Text already decoded (or never encoded), which comes before the arena's bytes. */
  private text = '';
  private sliceStart = performance.now();
  private ops = 0;
  /** Metric blocks written so far. */
  blocks = 0;

  constructor(
    private readonly sliceMs: number,
    private readonly openMetrics: boolean,
    private readonly sink?: ChunkSink,
  ) {
    this.arena = spareArena ?? Buffer.allocUnsafeSlow(ARENA_BYTES);
    spareArena = undefined;
  }

  /** Starts a metric block: prom-client separates blocks by an empty line (none in OpenMetrics). */
  begin(header: string): void {
    if (this.blocks++ > 0 && !this.openMetrics) this.push('\n');
    this.push(header);
  }

  push(s: string): void {
    if (this.parts.push(s) >= BATCH) this.spill();
  }

  /** True when the current slice is used up (then call {@link yieldNow}); the clock is read every 32 calls. */
  due(): boolean {
    return (++this.ops & 31) === 0 && performance.now() - this.sliceStart >= this.sliceMs;
  }

  /** Like {@link due} but reads the clock on every call, for steps that are individually expensive. */
  dueNow(): boolean {
    return performance.now() - this.sliceStart >= this.sliceMs;
  }

  /** Ends the slice: lets the event loop run (timers and I/O included) and starts a new one. */
  async yieldNow(): Promise<void> {
    this.spill();
    if (this.sink !== undefined) {
      const chunk = this.take();
      if (chunk !== '') await this.sink(chunk);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
    // Decoding a piece (~1 ms per 256 KiB where fresh pages are slow) opens a slice, inside its budget,
    // rather than adding to the end of one.
    if (this.sink === undefined && this.used >= PIECE_BYTES) this.cut();
  }

  /**
   * Ends the text as prom-client ends it and returns it (`''` when a sink received it). With a sink, the
   * last chunk is handed over before this resolves.
   */
  async finish(): Promise<string> {
    // prom-client joins blocks and appends a newline (and `# EOF`): with no block that is a lone newline.
    if (this.blocks === 0) this.push('\n');
    if (this.openMetrics) this.push('# EOF\n');
    this.spill();
    const text = this.take();
    spareArena = this.arena;
    if (this.sink === undefined) return text;
    if (text !== '') await this.sink(text);
    return '';
  }

  /** Joins the pending strings and encodes them into the arena. */
  private spill(): void {
    const n = this.parts.length;
    if (n === 0) return;
    const s = n === 1 ? (this.parts[0] as string) : this.parts.join('');
    this.parts = [];
    // UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units).
    if (this.used + 3 * s.length > this.arena.length) {
      this.cut();
      // Longer than the arena: the string is a piece of its own (it is already one string).
      if (3 * s.length > this.arena.length) {
        this.text += s;
        return;
      }
    }
    const written = this.arena.write(s, this.used, 'utf8');
    // As many bytes as code units: all ASCII. Otherwise the text must survive UTF-8 (no lone surrogate).
    if (written !== s.length) {
      if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) {
        this.cut();
        this.text += s;
        return;
      }
      this.ascii = false;
    }
    this.used += written;
  }

  /** Decodes the arena's bytes onto the text and empties the arena. */
  private cut(): void {
    if (this.used === 0) return;
    this.text += this.arena.toString(this.ascii ? 'latin1' : 'utf8', 0, this.used);
    this.used = 0;
    this.ascii = true;
  }

  /** The text written since the last call; empties the writer. */
  private take(): string {
    this.cut();
    const text = this.text;
    this.text = '';
    return text;
  }
}
