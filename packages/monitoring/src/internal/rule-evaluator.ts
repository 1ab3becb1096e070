import { EwmaDetector } from '../ewma-detector.js';
import { MadDetector } from '../mad-detector.js';
import type { CompareOp } from '../types.js';
import type { ResolvedRule } from './alerting-options.js';
import { labelKey } from './fingerprint.js';
import { matches } from './label-matchers.js';
import { histogramQuantile, type MetricSnapshot } from './metric-reader.js';

/** One series' verdict in one evaluation. */
export interface RuleSample {
  labels: Record<string, string>;
  key: string;
  value: number;
  active: boolean;
}

/** Compares `a op b`. */
export function compare(a: number, op: CompareOp, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}

interface SeriesState {
  /** (time, value) samples for rate windows, oldest first. */
  times: number[];
  values: number[];
  /** Cumulative bucket snapshots for windowed quantiles. */
  snaps: { t: number; cumulative: number[] }[];
  detector?: EwmaDetector | MadDetector;
  prevT?: number;
  prevV?: number;
}

const keyCache = new WeakMap<object, string>();
function keyOf(labels: Record<string, string>): string {
  let k = keyCache.get(labels);
  if (k === undefined) {
    k = labelKey(labels);
    keyCache.set(labels, k);
  }
  return k;
}

/** Most samples one series keeps for its window (bounds memory whatever the window and interval). */
const MAX_WINDOW_SAMPLES = 1_000;

/**
 * Evaluates one rule against a metric snapshot, keeping the little per-series state that rates,
 * windowed quantiles and detectors need (bounded by `maxSeries`).
 */
export class RuleEvaluator {
  private readonly series = new Map<string, SeriesState>();

  constructor(
    readonly rule: ResolvedRule,
    private readonly maxSeries: number,
  ) {}

  private state(key: string): SeriesState | undefined {
    let s = this.series.get(key);
    if (s === undefined) {
      if (this.series.size >= this.maxSeries) return undefined;
      s = { times: [], values: [], snaps: [] };
      const c = this.rule.condition;
      if (c.type === 'anomaly')
        s.detector = c.detector.kind === 'ewma' ? new EwmaDetector(c.detector) : new MadDetector(c.detector);
      this.series.set(key, s);
    }
    return s;
  }

  /** The metric this rule reads (undefined for custom rules). */
  get metric(): string | undefined {
    const c = this.rule.condition;
    return c.type === 'custom' ? undefined : c.metric;
  }

  async evaluate(now: number, snapshot: MetricSnapshot | undefined): Promise<RuleSample[]> {
    const c = this.rule.condition;
    const out: RuleSample[] = [];
    if (c.type === 'custom') {
      const v = await c.read();
      if (typeof v === 'number' && !Number.isNaN(v))
        out.push({ labels: {}, key: '', value: v, active: compare(v, c.op, c.value) });
      return out;
    }
    if (snapshot === undefined) {
      this.series.clear();
      return out;
    }
    const seen = new Set<string>();
    if (snapshot.kind === 'histogram') {
      if (c.type !== 'quantile') return out;
      for (const s of snapshot.series) {
        if (!matches(c.matchers, s.labels)) continue;
        const key = keyOf(s.labels);
        const st = this.state(key);
        if (st === undefined) continue;
        seen.add(key);
        let cumulative = s.cumulative;
        if (c.windowMs > 0) {
          st.snaps.push({ t: now, cumulative: [...s.cumulative] });
          while (st.snaps.length > 2 && (st.snaps[1] as { t: number }).t <= now - c.windowMs) st.snaps.shift();
          if (st.snaps.length > MAX_WINDOW_SAMPLES) st.snaps.shift();
          const base = st.snaps[0] as { cumulative: number[] };
          cumulative = s.cumulative.map((v, i) => v - (base.cumulative[i] ?? 0));
          // The base snapshot is the current one on the first evaluation: no window yet.
          if (st.snaps.length === 1) cumulative = s.cumulative.map(() => 0);
        }
        const q = histogramQuantile(c.quantile, s.bounds, cumulative);
        if (Number.isNaN(q)) continue;
        out.push({ labels: s.labels, key, value: q, active: compare(q, c.op, c.value) });
      }
    } else {
      if (c.type === 'quantile') return out;
      for (const s of snapshot.series) {
        if (!matches(c.matchers, s.labels)) continue;
        const key = keyOf(s.labels);
        if (c.type === 'threshold') {
          // Stateless: no per-series state to keep.
          out.push({ labels: s.labels, key, value: s.value, active: compare(s.value, c.op, c.value) });
          continue;
        }
        const st = this.state(key);
        if (st === undefined) continue;
        seen.add(key);
        if (c.type === 'rate') {
          st.times.push(now);
          st.values.push(s.value);
          // Keep one sample at or before the window start as the base.
          while (st.times.length > 2 && (st.times[1] as number) <= now - c.windowMs) {
            st.times.shift();
            st.values.shift();
          }
          if (st.times.length > MAX_WINDOW_SAMPLES) {
            st.times.shift();
            st.values.shift();
          }
          if (st.times.length < 2) continue;
          const dt = (now - (st.times[0] as number)) / 1000;
          const base = st.values[0] as number;
          const dv = s.value >= base ? s.value - base : s.value; // counter reset
          const rate = dt > 0 ? dv / dt : 0;
          out.push({ labels: s.labels, key, value: rate, active: compare(rate, c.op, c.value) });
        } else {
          let x = s.value;
          if (c.source === 'rate') {
            const prevT = st.prevT;
            const prevV = st.prevV;
            st.prevT = now;
            st.prevV = s.value;
            if (prevT === undefined || prevV === undefined || now <= prevT) continue;
            x = ((s.value >= prevV ? s.value - prevV : s.value) * 1000) / (now - prevT);
          }
          const anomalous = (st.detector as EwmaDetector | MadDetector).update(x);
          out.push({ labels: s.labels, key, value: x, active: anomalous });
        }
      }
    }
    // Series that disappeared take their state with them.
    if (this.series.size > 0 && seen.size < this.series.size)
      for (const k of this.series.keys()) if (!seen.has(k)) this.series.delete(k);
    return out;
  }
}
