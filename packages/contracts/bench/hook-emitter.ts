/**
 * What an unobserved hook costs on a hot path: `if (hook.hasListeners) hook.emit(payload)` against the guard every
 * package already pays for its channel, `if (channel.hasSubscribers) channel.publish(payload)`, and against an empty
 * loop. Alternating rounds, median; the payload is built only inside the guard, as the packages do.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { percentiles, reportBench } from '@cryptoscalp/testkit';
import { HookEmitter } from '../src/index.js';

const ITERATIONS = 20_000_000;
const ROUNDS = 7;
const hook = new HookEmitter<{ n: number }>();
const channel = diagnostics_channel.channel('cryptoscalp:bench:hook-emitter');
let sink = 0;

function empty(): void {
  for (let i = 0; i < ITERATIONS; i++) sink += i & 1;
}
function guardedHook(): void {
  for (let i = 0; i < ITERATIONS; i++) {
    sink += i & 1;
    if (hook.hasListeners) hook.emit({ n: i });
  }
}
function guardedChannel(): void {
  for (let i = 0; i < ITERATIONS; i++) {
    sink += i & 1;
    if (channel.hasSubscribers) channel.publish({ n: i });
  }
}
function nsPerOp(fn: () => void): number {
  const started = performance.now();
  fn();
  return ((performance.now() - started) * 1e6) / ITERATIONS;
}

const runs = { empty: [] as number[], hook: [] as number[], channel: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  runs.empty.push(nsPerOp(empty));
  runs.hook.push(nsPerOp(guardedHook));
  runs.channel.push(nsPerOp(guardedChannel));
}
const median = (xs: number[]) => percentiles(xs, [50]).p50 as number;
reportBench({
  package: '@cryptoscalp/contracts',
  bench: 'hook-emitter',
  figures: [
    {
      name: 'unobserved hook guard in a tight loop',
      value: median(runs.hook),
      unit: 'ns/op',
      baseline: { name: 'unobserved diagnostics_channel guard', value: median(runs.channel) },
      higherIsBetter: false,
      target: 1.1,
      method: `${ITERATIONS} iterations of a loop body plus the guard, median of ${ROUNDS} alternating rounds; 2-core machine shared with other builds`,
      extra: { emptyLoopNsPerOp: median(runs.empty).toFixed(3), sink },
    },
  ],
});
