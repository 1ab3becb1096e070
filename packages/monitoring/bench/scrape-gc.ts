/**
 * Diagnostic: what the longest event-loop blocks of a scrape are made of. Runs one case of the scrape
 * bench (B: 100k series in one counter; C: 50k counter + 3,500-label histogram) several times and, for
 * each scrape, prints its longest setImmediate gaps (wall and process CPU) with the garbage collections
 * that fell inside them (PerformanceObserver 'gc' entries: start, duration, kind).
 *
 * Run: node --import tsx packages/monitoring/bench/scrape-gc.ts   (CASE=B|C, RUNS=6, SLICE_MS=4,
 * PROM=1 to run prom-client's scrape of the same registry before each of ours, unmeasured; SETTLE=1 for a
 * full GC right before each of ours)
 */
import os from 'node:os';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Registry } from 'prom-client';
import { Monitoring } from '../src/index.js';
import { ChunkWriter } from '../src/internal/chunk-writer.js';
import { type LoopGap, startLoopGaps } from './loop-gaps.js';
import { addOrdersAndFills, addWideCounter } from './registries.js';

const which = process.env.CASE ?? 'B';
const runs = Number(process.env.RUNS ?? 6);
const sliceMs = Number(process.env.SLICE_MS ?? 4);
const withProm = process.env.PROM === '1';
let fullGc: (() => void) | undefined;
if (process.env.SETTLE === '1') {
  v8.setFlagsFromString('--expose-gc');
  fullGc = vm.runInNewContext('gc') as () => void;
}

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-cb',
};
const gcs: { start: number; ms: number; kind: string }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1;
    gcs.push({ start: e.startTime, ms: e.duration, kind: KINDS[kind] ?? String(kind) });
  }
}).observe({ entryTypes: ['gc'] });

const reg = new Registry();
if (which === 'B') addWideCounter(reg);
else addOrdersAndFills(reg);
const mon = new Monitoring({
  registry: reg,
  defaultMetrics: false,
  systemMetrics: false,
  tracing: false,
  scrape: { sliceMs },
});

// The work of each slice as the writer sees it (from its slice start to its yield), to tell the slice's
// own length from what else lands in the same event-loop gap.
const slices: number[] = [];
const proto = ChunkWriter.prototype as unknown as { yieldNow(): Promise<void>; sliceStart: number };
const yieldNow = proto.yieldNow;
proto.yieldNow = function (this: { sliceStart: number }) {
  slices.push(performance.now() - this.sliceStart);
  return yieldNow.call(this);
};

async function scrape(): Promise<{ gaps: LoopGap[]; totalMs: number; slices: number }> {
  const gaps: LoopGap[] = [];
  const ticker = await startLoopGaps((g) => gaps.push(g));
  slices.length = 0;
  const t0 = performance.now();
  await mon.metrics();
  const totalMs = performance.now() - t0;
  ticker.sample();
  ticker.stop();
  await new Promise((r) => setTimeout(r, 20)); // let the gc entries arrive
  return { gaps, totalMs, slices: gaps.length };
}

for (let run = 0; run < runs; run++) {
  if (withProm) await reg.metrics();
  fullGc?.();
  const r = await scrape();
  const top = [...r.gaps].sort((x, y) => y.end - y.start - (x.end - x.start)).slice(0, 3);
  const maxCpu = Math.max(...r.gaps.map((g) => g.cpu));
  const maxThread = Math.max(...r.gaps.map((g) => g.thread));
  const gcInScrape = gcs.filter((g) => g.start >= (r.gaps[0]?.start ?? 0) && g.start <= (r.gaps.at(-1)?.end ?? 0));
  const gcMs = gcInScrape.reduce((s, g) => s + g.ms, 0);
  console.log(
    `run ${run}: total ${r.totalMs.toFixed(1)} ms, ${r.slices} gaps, longest wall ${(top[0] ? top[0].end - top[0].start : 0).toFixed(1)} ms, longest cpu ${maxCpu.toFixed(1)} ms, longest main-thread cpu ${maxThread.toFixed(1)} ms, ${gcInScrape.length} GCs ${gcMs.toFixed(1)} ms, longest slice ${Math.max(...slices).toFixed(1)} ms, load ${os.loadavg()[0]?.toFixed(2)}`,
  );
  if (process.env.SLICES === '1') console.log(`   slices: ${slices.map((x) => x.toFixed(1)).join(' ')}`);
  for (const g of top) {
    const inside = gcs.filter((x) => x.start >= g.start && x.start < g.end);
    console.log(
      `   gap #${r.gaps.indexOf(g)} of ${r.gaps.length}, ${(g.end - g.start).toFixed(1)} ms (cpu ${g.cpu.toFixed(1)}, main thread ${g.thread.toFixed(1)}): ${inside.map((x) => `${x.kind} ${x.ms.toFixed(1)}`).join(', ') || 'no gc'}`,
    );
  }
}
await mon.close();
