/**
 * Bench: how long a scrape blocks the event loop, and how long it takes, for Monitoring.metrics() (sliced,
 * also inside one metric) against prom-client's registry.metrics() on the same registry, same run.
 *
 * Cases: (A) ~100k series over 84 metrics; (B) 100k series in ONE counter; (C) one counter of 50k series
 * plus a histogram of 3,500 label sets. Blocking is measured three ways while the scrape runs: the longest
 * gap of a setImmediate ticker (wall clock), the process CPU time over that same gap (does not grow when
 * other processes compete for the cores), and perf_hooks.monitorEventLoopDelay's max (which misses a block
 * made of a chain of microtasks, as prom-client's is: reported, not used as the baseline).
 *
 * Run: npx tsx packages/monitoring/bench/scrape.ts   (SLICE_MS=4 by default, RUNS=8 incl. 2 warm-ups;
 * SEQUENTIAL=1 runs all prom-client scrapes first, then all ours, instead of alternating them, so that
 * neither scrape pays for collecting the other's garbage; SETTLE=1 runs a full garbage collection before
 * every measured scrape, so that what lands in a scrape's blocks is the collection of its own garbage,
 * not of the previous scrape's; CASES=BC runs only those cases: A, B (with the cost of sending its text), C, H (hot path of the series index))
 */
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { type BenchFigure, percentiles, reportBench } from '@cryptoscalp/testkit';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Monitoring } from '../src/index.js';
import { startLoopGaps } from './loop-gaps.js';
import { addOrdersAndFills, addWideCounter } from './registries.js';

const sliceMs = Number(process.env.SLICE_MS ?? 4);
const runs = Number(process.env.RUNS ?? 8);
/** SEQUENTIAL=1: all prom-client runs, then all ours (no run collects the other's garbage). */
const sequential = process.env.SEQUENTIAL === '1';
const loads: number[] = [];
/** SETTLE=1: a full GC before each measured scrape (each scrape then collects only its own garbage). */
const settle = process.env.SETTLE === '1';
const cases = process.env.CASES ?? 'ABCH';
let fullGc: (() => void) | undefined;
if (settle) {
  v8.setFlagsFromString('--expose-gc');
  fullGc = vm.runInNewContext('gc') as () => void;
}

interface Measured {
  totalMs: number;
  gapMs: number;
  gapCpuMs: number;
  gapThreadMs: number;
  eldMaxMs: number;
  bytes: number;
}

async function measure(fn: () => Promise<string>): Promise<Measured> {
  fullGc?.();
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  // The histogram's first timer run only starts its clock.
  await new Promise((r) => setTimeout(r, 5));
  eld.reset();
  let gap = 0;
  let gapCpu = 0;
  let gapThread = 0;
  const ticker = await startLoopGaps((g) => {
    if (g.end - g.start > gap) gap = g.end - g.start;
    if (g.cpu > gapCpu) gapCpu = g.cpu;
    if (g.thread > gapThread) gapThread = g.thread;
  });
  const t0 = performance.now();
  const text = await fn();
  const totalMs = performance.now() - t0;
  ticker.sample(); // the last slice ends before the ticker's next run
  ticker.stop();
  await new Promise((r) => setTimeout(r, 5));
  eld.disable();
  loads.push(os.loadavg()[0] as number);
  return { totalMs, gapMs: gap, gapCpuMs: gapCpu, gapThreadMs: gapThread, eldMaxMs: eld.max / 1e6, bytes: text.length };
}

interface Runs {
  total: number[];
  gap: number[];
  cpu: number[];
  thread: number[];
  eld: number[];
}
const newRuns = (): Runs => ({ total: [], gap: [], cpu: [], thread: [], eld: [] });

async function compare(reg: Registry, mon: Monitoring): Promise<{ ours: Runs; theirs: Runs; bytes: number }> {
  const ours = newRuns();
  const theirs = newRuns();
  let bytes = 0;
  const deadline = performance.now() + 60_000;
  const keep = (into: Runs, m: Measured) => {
    into.total.push(m.totalMs);
    into.gap.push(m.gapMs);
    into.cpu.push(m.gapCpuMs);
    into.thread.push(m.gapThreadMs);
    into.eld.push(m.eldMaxMs);
  };
  if (sequential) {
    for (let run = 0; run < runs; run++) {
      const m = await measure(() => reg.metrics());
      if (run >= 2) keep(theirs, m);
    }
    for (let run = 0; run < runs; run++) {
      const m = await measure(() => mon.metrics());
      bytes = m.bytes;
      if (run >= 2) keep(ours, m);
    }
    return { ours, theirs, bytes };
  }
  for (let run = 0; run < runs && performance.now() < deadline; run++) {
    const a = await measure(() => reg.metrics());
    const b = await measure(() => mon.metrics());
    if (run < 2) continue; // warm-up (the first scrape also fills the label-string cache)
    keep(theirs, a);
    keep(ours, b);
    bytes = b.bytes;
  }
  return { ours, theirs, bytes };
}

const med = (xs: number[]) => percentiles(xs, [50]).p50 as number;
const max = (xs: number[]) => Math.max(...xs);

function monitoringFor(registry: Registry): Monitoring {
  return new Monitoring({ registry, defaultMetrics: false, systemMetrics: false, tracing: false, scrape: { sliceMs } });
}

function figures(label: string, method: string, r: { ours: Runs; theirs: Runs }): BenchFigure[] {
  const m = `${method}; median of ${r.ours.total.length} ${sequential ? 'back-to-back runs of each (prom-client first)' : 'alternating runs'} after 2 warm-ups; sliceMs ${sliceMs}${settle ? '; full GC before each scrape' : ''}`;
  return [
    {
      name: `${label}: longest event-loop block (setImmediate gap, wall)`,
      value: med(r.ours.gap),
      unit: 'ms',
      baseline: { name: 'prom-client registry.metrics()', value: med(r.theirs.gap) },
      higherIsBetter: false,
      method: m,
      extra: {
        oursWorstRunMs: max(r.ours.gap),
        eldMaxMedianMs: med(r.ours.eld),
        promClientEldMaxMedianMs: med(r.theirs.eld),
        targetAbsoluteMs: 10,
      },
    },
    {
      name: `${label}: longest block in process CPU time (contention-independent)`,
      value: med(r.ours.cpu),
      unit: 'ms',
      baseline: { name: 'prom-client registry.metrics(), CPU time of its block', value: med(r.theirs.cpu) },
      higherIsBetter: false,
      method: `${m}; CPU = process.cpuUsage() delta over the same ticker gap (includes GC helper threads)`,
      extra: { oursWorstRunMs: max(r.ours.cpu), targetAbsoluteMs: 10 },
    },
    ...(Number.isNaN(med(r.ours.thread))
      ? []
      : [
          {
            name: `${label}: longest block in main-thread CPU time (contention- and helper-thread-independent)`,
            value: med(r.ours.thread),
            unit: 'ms',
            baseline: {
              name: 'prom-client registry.metrics(), main-thread CPU time of its block',
              value: med(r.theirs.thread),
            },
            higherIsBetter: false,
            method: `${m}; main-thread on-CPU time (/proc/thread-self/schedstat) over each ticker gap, largest gap`,
            extra: { oursWorstRunMs: max(r.ours.thread), targetAbsoluteMs: 10 },
          },
        ]),
    {
      name: `${label}: total scrape time`,
      value: med(r.ours.total),
      unit: 'ms',
      baseline: { name: 'prom-client registry.metrics()', value: med(r.theirs.total) },
      higherIsBetter: false,
      target: 1.5,
      method: m,
    },
  ];
}

/** Figures of each case, made at the end (the load range is only known then). */
const later: ((load: string) => BenchFigure[])[] = [];

// (A) ~100k series over 84 metrics.
async function caseA(): Promise<void> {
  const regA = new Registry();
  let seriesA = 0;
  for (let k = 0; k < 40; k++) {
    const c = new Counter({
      name: `bench_requests_${k}_total`,
      help: 'c',
      labelNames: ['route', 'code'],
      registers: [regA],
    });
    for (let i = 0; i < 1000; i++) c.labels(`/route/${i}`, String(200 + (i % 5))).inc(i);
    seriesA += 1000;
  }
  for (let k = 0; k < 40; k++) {
    const g = new Gauge({ name: `bench_depth_${k}`, help: 'g', labelNames: ['queue'], registers: [regA] });
    for (let i = 0; i < 1000; i++) g.labels(`q${i}`).set(i * 1.5);
    seriesA += 1000;
  }
  for (let k = 0; k < 4; k++) {
    const h = new Histogram({
      name: `bench_latency_${k}_seconds`,
      help: 'h',
      labelNames: ['op'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
      registers: [regA],
    });
    for (let i = 0; i < 360; i++) for (let j = 0; j < 5; j++) h.labels(`op${i}`).observe(j * 0.01);
    seriesA += 360 * 14;
  }
  const monA = monitoringFor(regA);
  const a = await compare(regA, monA);
  await monA.close();
  later.push((load) =>
    figures(
      '(A) ~100k series in 84 metrics',
      `${seriesA.toLocaleString('en-US')} series (40 counters x 1000, 40 gauges x 1000, 4 histograms x 360 label sets x 14 lines), ${(a.bytes / 1e6).toFixed(1)} MB; ${load}`,
      a,
    ),
  );
}

// (B) 100k series in ONE counter. The Monitoring is created after the series exist, so its constructor
// pays the one whole-map enumeration of the series index: measured here against prom-client's block.
// Then the cost of sending the text, on the same registry.
async function caseB(): Promise<void> {
  const regB = new Registry();
  addWideCounter(regB);
  const tIndex = performance.now();
  const monB = monitoringFor(regB);
  const indexMs = performance.now() - tIndex;
  const b = await compare(regB, monB);
  await monB.close();

  // Sending: turning the returned text into bytes (what res.end(text) does) is one synchronous step for
  // both; Monitoring.writeMetrics() hands over slice-sized chunks instead.
  const sendOurs: number[] = [];
  const sendTheirs: number[] = [];
  const monS = monitoringFor(regB);
  for (let i = 0; i < 4; i++) {
    const ours = await monS.metrics();
    let t = performance.now();
    Buffer.from(ours);
    sendOurs.push(performance.now() - t);
    const theirs = await regB.metrics();
    t = performance.now();
    Buffer.from(theirs);
    sendTheirs.push(performance.now() - t);
  }
  let chunkMax = 0;
  await monS.writeMetrics((chunk) => {
    const t = performance.now();
    Buffer.from(chunk);
    chunkMax = Math.max(chunkMax, performance.now() - t);
  });
  await monS.close();

  later.push((load) => [
    ...figures(
      '(B) 100k series in ONE counter',
      `one counter with 100,000 label sets, ${(b.bytes / 1e6).toFixed(1)} MB; ${load}`,
      b,
    ),
    {
      name: '(B) one-time series index of the 100k-series counter (in the Monitoring constructor)',
      value: indexMs,
      unit: 'ms',
      baseline: { name: 'prom-client registry.metrics() block, same registry', value: med(b.theirs.gap) },
      higherIsBetter: false,
      method: `one Object.keys() of the series map, once per map (see src/internal/series-index.ts); ${load}`,
    },
    {
      name: '(B) encoding the returned 3.6 MB text to bytes (what res.end(text) does)',
      value: med(sendOurs),
      unit: 'ms',
      baseline: { name: "the same for prom-client's (flat) text", value: med(sendTheirs) },
      higherIsBetter: false,
      method: `Buffer.from(text), median of 4; ours is a rope of pieces, flattened here; ${load}`,
      extra: { writeMetricsLongestChunkEncodeMs: chunkMax },
    },
  ]);
}

// (C) one counter of 50k series plus a histogram of 3,500 label sets.
async function caseC(): Promise<void> {
  const regC = new Registry();
  addOrdersAndFills(regC);
  const monC = monitoringFor(regC);
  const cRes = await compare(regC, monC);
  await monC.close();
  later.push((load) =>
    figures(
      '(C) 50k-series counter + 3,500-label-set histogram',
      `one counter with 50,000 label sets and one histogram with 3,500 label sets x 14 lines, ${(cRes.bytes / 1e6).toFixed(1)} MB; ${load}`,
      cRes,
    ),
  );
}

// Hot-path cost of the series index: prom-client counter updates on existing series and creation of new
// series, on an indexed map (recording prototype) vs a plain one, alternating rounds.
function updateRound(indexed: boolean): { incNs: number; createNs: number } {
  const r = new Registry();
  const ctr = new Counter({ name: 'hot_total', help: 'h', labelNames: ['id'], registers: [r] });
  const mon = indexed
    ? new Monitoring({ registry: r, defaultMetrics: false, systemMetrics: false, tracing: false })
    : undefined;
  const ids = Array.from({ length: 1000 }, (_, i) => `id-${i}`);
  let t = performance.now();
  for (let i = 0; i < 20_000; i++) ctr.inc({ id: `new-${i}` }, 1);
  const createNs = ((performance.now() - t) * 1e6) / 20_000;
  for (const id of ids) ctr.inc({ id }, 1);
  t = performance.now();
  for (let k = 0; k < 500; k++) for (const id of ids) ctr.inc({ id }, 1);
  const incNs = ((performance.now() - t) * 1e6) / 500_000;
  void mon?.close(); // after the synchronous rounds: close() gives the map its prototype back
  return { incNs, createNs };
}

function hotPath(): void {
  const hot = { plainInc: [] as number[], idxInc: [] as number[], plainNew: [] as number[], idxNew: [] as number[] };
  for (let round = 0; round < 6; round++) {
    const p = updateRound(false);
    const q = updateRound(true);
    if (round === 0) continue;
    hot.plainInc.push(p.incNs);
    hot.plainNew.push(p.createNs);
    hot.idxInc.push(q.incNs);
    hot.idxNew.push(q.createNs);
  }
  later.push((load) => [
    {
      name: 'prom-client counter.inc() on an existing series, map indexed by a Monitoring',
      value: med(hot.idxInc),
      unit: 'ns/op',
      baseline: { name: 'the same on a plain (not indexed) counter', value: med(hot.plainInc) },
      higherIsBetter: false,
      method: `1000 series x 500 rounds, median of 5 alternating rounds after 1 warm-up; ${load}`,
    },
    {
      name: 'prom-client counter.inc() creating a new series, map indexed by a Monitoring',
      value: med(hot.idxNew),
      unit: 'ns/op',
      baseline: { name: 'the same on a plain (not indexed) counter', value: med(hot.plainNew) },
      higherIsBetter: false,
      method: `20,000 new series, median of 5 alternating rounds after 1 warm-up; ${load}`,
    },
  ]);
}

if (cases.includes('A')) await caseA();
if (cases.includes('B')) await caseB();
if (cases.includes('C')) await caseC();
if (cases.includes('H')) hotPath();
if (loads.length === 0) loads.push(os.loadavg()[0] as number); // only the hot path ran

const load = `load average 1m during the runs ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} on ${os.cpus().length} cores shared with other work`;
reportBench({ package: '@cryptoscalp/monitoring', bench: 'scrape', figures: later.flatMap((f) => f(load)) });
