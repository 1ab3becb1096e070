import { join } from 'node:path';
import type { TraderConfig } from '../../config/config-types.js';
import type { Component, ComponentHealth } from '../../kernel/component.js';
import type { DataSink } from '../../model/data-client.js';
import { MarketRecorder } from '../../recording/market-recorder.js';

/**
 * Market-data recording (`recording.enabled`): taps the data client's sink so every normalized event and snapshot
 * is also buffered for the {@link MarketRecorder}, which writes off the tick path. Declared before market data, so
 * it stops after the feed and its last flush holds every event delivered.
 */
export class RecordingComponent implements Component {
  readonly name = 'recording';
  readonly #recorder: MarketRecorder | undefined;

  constructor(private readonly config: TraderConfig) {
    const r = config.recording;
    this.#recorder = r.enabled
      ? new MarketRecorder({
          dir: r.dir === '' ? join(config.dataDir, 'recordings') : r.dir,
          symbols: config.symbols,
          flushIntervalMs: r.flushIntervalMs,
        })
      : undefined;
  }

  /** The sink to give the data client: `sink` itself when recording is off. */
  tap(sink: DataSink): DataSink {
    return this.#recorder === undefined ? sink : this.#recorder.tap(sink, this.config.market.venue);
  }

  start(): void {
    this.#recorder?.start();
  }

  /** Pass while writes succeed (or recording is off); warn naming the error, or when events were dropped. */
  async healthCheck(): Promise<ComponentHealth> {
    if (this.#recorder === undefined) return { status: 'pass', output: 'off' };
    const s = this.#recorder.stats();
    if (s.lastError !== undefined) return { status: 'warn', output: `writes failing: ${s.lastError}` };
    if (s.dropped > 0) return { status: 'warn', output: `${s.dropped} events dropped (the disk could not keep up)` };
    return { status: 'pass', observedValue: s.written, observedUnit: 'events written' };
  }

  stats(): Record<string, unknown> {
    return this.#recorder === undefined ? { enabled: false } : { enabled: true, ...this.#recorder.stats() };
  }

  async stop(): Promise<void> {
    await this.#recorder?.close();
  }
}
