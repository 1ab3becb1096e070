import { performance } from 'node:perf_hooks';

/** Receives the scrape text one slice at a time; a returned promise is awaited (backpressure). */
export type ChunkSink = (chunk: string) => void | Promise<void>;

/**
 * Collects the scrape text and tracks the time budget of the current synchronous slice. Lines of a
 * slice are joined flat when the slice ends; slices are then either handed to a sink or appended to the
 * result with `+`, which links them (a V8 cons string) instead of copying: one final `join` of a
 * multi-megabyte text is itself a 10-20 ms copy on a loaded machine, over the slice budget.
 */
export class ChunkWriter {
  private text = '';
  private parts: string[] = [];
  private sliceStart = performance.now();
  private ops = 0;
  /** Metric blocks written so far. */
  blocks = 0;

  constructor(
    private readonly sliceMs: number,
    private readonly openMetrics: boolean,
    private readonly sink?: ChunkSink,
  ) {}

  /** Starts a metric block: prom-client separates blocks by an empty line (none in OpenMetrics). */
  begin(header: string): void {
    if (this.blocks++ > 0 && !this.openMetrics) this.parts.push('\n');
    this.parts.push(header);
  }

  push(s: string): void {
    this.parts.push(s);
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
    await this.flush();
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }

  /**
   * Ends the text as prom-client ends it and returns it (`''` when a sink received it). With a sink, the
   * last chunk is handed over before this resolves.
   */
  async finish(): Promise<string> {
    // prom-client joins blocks and appends a newline (and `# EOF`): with no block that is a lone newline.
    if (this.blocks === 0) this.parts.push('\n');
    if (this.openMetrics) this.parts.push('# EOF\n');
    await this.flush();
    return this.text;
  }

  private async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    if (this.sink === undefined) this.text += chunk;
    else await this.sink(chunk);
  }
}
