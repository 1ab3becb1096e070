import { performance } from 'node:perf_hooks';
import type { HealthRegistry } from '../health-registry.js';
import type { BenchmarkReport, ComponentBenchmark } from '../types.js';

/**
 * A bounded self-benchmark: up to `rounds` sequential round trips of each registered dependency's `healthCheck`
 * (bypassing the cache), within a total time budget, at most one every `minIntervalMs`.
 */
export class SelfBenchmark {
  private lastStart = Number.NEGATIVE_INFINITY;
  private running = false;

  constructor(
    private readonly registry: HealthRegistry,
    private readonly rounds: number,
    private readonly budgetMs: number,
    private readonly minIntervalMs: number,
  ) {}

  /** Seconds until the next run is allowed, or 0 when one may start now. */
  retryAfterSeconds(): number {
    if (this.running) return Math.max(1, Math.ceil(this.budgetMs / 1000));
    const wait = this.lastStart + this.minIntervalMs - performance.now();
    return wait > 0 ? Math.ceil(wait / 1000) : 0;
  }

  /** Runs the benchmark. Call only when {@link retryAfterSeconds} is 0. */
  async run(): Promise<BenchmarkReport> {
    this.running = true;
    const started = performance.now();
    this.lastStart = started;
    const deadline = started + this.budgetMs;
    const startedAt = new Date().toISOString();
    const components: Record<string, ComponentBenchmark> = {};
    let truncated = false;
    try {
      for (const runner of this.registry.runners()) {
        if (runner.settings.kind !== 'readiness') continue;
        const samples: number[] = [];
        let errors = 0;
        for (let i = 0; i < this.rounds; i++) {
          const remaining = deadline - performance.now();
          if (remaining <= 1) {
            truncated = true;
            break;
          }
          const { ok, durationMs } = await runner.probe(Math.min(runner.settings.timeoutMs, Math.ceil(remaining)));
          if (!ok) errors++;
          samples.push(durationMs);
        }
        components[runner.settings.name] = summarize(samples, errors);
      }
    } finally {
      this.running = false;
    }
    return {
      startedAt,
      durationMs: round(performance.now() - started),
      budgetMs: this.budgetMs,
      roundsPerComponent: this.rounds,
      truncated,
      components,
    };
  }
}

function summarize(samples: number[], errors: number): ComponentBenchmark {
  if (samples.length === 0) return { rounds: 0, errors, minMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
  return {
    rounds: samples.length,
    errors,
    minMs: round(sorted[0] as number),
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    maxMs: round(sorted[sorted.length - 1] as number),
    meanMs: round(samples.reduce((a, b) => a + b, 0) / samples.length),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
