import { performance } from 'node:perf_hooks';
import { TraderError } from '../errors.js';
import { LatencyRecorder } from '../internal/latency-recorder.js';
import type { OrderIntent } from '../model/types.js';
import { computeFeatures, FEATURE_COUNT } from './book-features.js';
import { OnlineLogisticRegression } from './online-logistic-regression.js';
import type { Strategy, StrategyContext } from './strategy.js';

/** Options of {@link ScalpingStrategy}. */
export interface ScalpingStrategyOptions {
  /** Order size in quote currency. @default 500 */
  orderNotional?: number;
  /** Largest targeted position, in orders. @default 2 */
  maxLots?: number;
  /** Horizon over which a prediction is labelled (mid up or down). @default 500 */
  horizonMs?: number;
  /** Act when p(up) is beyond 0.5 ± threshold. @default 0.08 */
  threshold?: number;
  /** SGD learning rate. @default 0.05 */
  learningRate?: number;
  /** L2 regularization. @default 0.0001 */
  l2?: number;
  /** Labelled samples before the first order. @default 200 */
  warmupSamples?: number;
  /** Minimum time between decisions per symbol. @default 50 */
  cooldownMs?: number;
  /** Minimum time between training samples per symbol. @default 25 */
  sampleEveryMs?: number;
}

/** What {@link ScalpingStrategy.exportState} returns (version 1). */
export interface ScalpingStrategyState {
  v: 1;
  weights: number[];
  bias: number;
  samples: number;
  labelled: number;
  confident: number;
  hits: number;
  decisions: number;
  symbols: Record<string, { ewmaMid: number }>;
}

function invalidState(field: string, why: string): TraderError {
  return new TraderError('E_TRADER_INVALID_OPTION', `strategy state: ${field} ${why}`, { field: `state.${field}` });
}

/** Checks a state from the journal before any of it is applied. */
function checkState(state: unknown, dimensions: number): ScalpingStrategyState {
  if (typeof state !== 'object' || state === null) throw invalidState('', 'must be an object');
  const st = state as Partial<Record<keyof ScalpingStrategyState, unknown>>;
  if (st.v !== 1) throw invalidState('v', 'must be 1');
  const w = st.weights;
  if (!Array.isArray(w) || w.length !== dimensions || !w.every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw invalidState('weights', `must be ${dimensions} finite numbers`);
  if (typeof st.bias !== 'number' || !Number.isFinite(st.bias)) throw invalidState('bias', 'must be a finite number');
  for (const k of ['samples', 'labelled', 'confident', 'hits', 'decisions'] as const) {
    const v = st[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw invalidState(k, 'must be an integer >= 0');
  }
  const symbols = st.symbols;
  if (typeof symbols !== 'object' || symbols === null || Array.isArray(symbols))
    throw invalidState('symbols', 'must be an object');
  for (const [symbol, v] of Object.entries(symbols)) {
    const mid = (v as { ewmaMid?: unknown } | null)?.ewmaMid;
    if (typeof mid !== 'number' || !Number.isFinite(mid))
      throw invalidState(`symbols.${symbol}.ewmaMid`, 'must be a finite number');
  }
  return state as ScalpingStrategyState;
}

interface Pending {
  t: number;
  mid: number;
  p: number;
  x: Float64Array;
}

interface SymbolState {
  ewmaMid: number;
  lastT: number;
  lastSampleT: number;
  lastDecisionT: number;
  pending: Pending[];
  pool: Float64Array[];
}

/**
 * A scalper on order-book features (top and depth-5 imbalance, micro-price offset, short-horizon momentum, spread)
 * with a signal learned online: every `sampleEveryMs` the features are queued, and after `horizonMs` labelled by
 * whether the mid went up (flat moves are skipped) and fed to an online logistic regression. After warm-up it
 * targets +/-`maxLots` orders of exposure when p(up) leaves the 0.5 ± threshold band, entering with a limit order
 * at the touch, and flattens with a market order when the signal turns against the position.
 * Inference latency and hit rate (direction of confident predictions) are recorded.
 */
export class ScalpingStrategy implements Strategy {
  readonly name = 'scalper';
  readonly model: OnlineLogisticRegression;
  /** Inference latency (feature computation + prediction), milliseconds. */
  readonly inferenceLatency = new LatencyRecorder(4096);
  private readonly o: Required<ScalpingStrategyOptions>;
  private readonly states = new Map<string, SymbolState>();
  private readonly x = new Float64Array(FEATURE_COUNT);
  private confident = 0;
  private hits = 0;
  private labelled = 0;
  private decisions = 0;
  private lastP = 0.5;
  /** Called for each labelled confident prediction (hit or miss), e.g. for a model metrics exporter. */
  onPrediction: ((hit: boolean) => void) | undefined;

  constructor(options: ScalpingStrategyOptions = {}) {
    this.o = {
      orderNotional: options.orderNotional ?? 500,
      maxLots: options.maxLots ?? 2,
      horizonMs: options.horizonMs ?? 500,
      threshold: options.threshold ?? 0.08,
      learningRate: options.learningRate ?? 0.05,
      l2: options.l2 ?? 1e-4,
      warmupSamples: options.warmupSamples ?? 200,
      cooldownMs: options.cooldownMs ?? 50,
      sampleEveryMs: options.sampleEveryMs ?? 25,
    };
    for (const [field, v] of Object.entries(this.o)) {
      if (!Number.isFinite(v) || v < 0) {
        throw new TraderError('E_TRADER_INVALID_OPTION', `${field} must be a finite number >= 0`, { field });
      }
    }
    if (this.o.threshold >= 0.5) {
      throw new TraderError('E_TRADER_INVALID_OPTION', 'threshold must be < 0.5', { field: 'threshold' });
    }
    this.model = new OnlineLogisticRegression(FEATURE_COUNT, this.o.learningRate, this.o.l2);
  }

  private state(symbol: string): SymbolState {
    let s = this.states.get(symbol);
    if (!s) {
      s = {
        ewmaMid: Number.NaN,
        lastT: 0,
        lastSampleT: Number.NEGATIVE_INFINITY,
        lastDecisionT: Number.NEGATIVE_INFINITY,
        pending: [],
        pool: [],
      };
      this.states.set(symbol, s);
    }
    return s;
  }

  onBook(ctx: StrategyContext): OrderIntent | undefined {
    const t0 = performance.now();
    const { book, now } = ctx;
    const s = this.state(ctx.symbol);
    const mid = book.mid();
    if (!Number.isFinite(mid)) return undefined;
    // Momentum: mid against a ~horizon/2 time-decayed average.
    if (Number.isNaN(s.ewmaMid)) s.ewmaMid = mid;
    const alpha = 1 - Math.exp(-(now - s.lastT) / (this.o.horizonMs / 2));
    const momentum = mid - s.ewmaMid;
    s.ewmaMid += (Number.isFinite(alpha) ? alpha : 1) * (mid - s.ewmaMid);
    s.lastT = now;
    if (!computeFeatures(book, momentum, this.x)) return undefined;
    const p = this.model.predict(this.x);
    this.lastP = p;
    this.inferenceLatency.record(performance.now() - t0);

    this.label(s, mid, now);
    if (now - s.lastSampleT >= this.o.sampleEveryMs) {
      s.lastSampleT = now;
      const x = s.pool.pop() ?? new Float64Array(FEATURE_COUNT);
      x.set(this.x);
      s.pending.push({ t: now, mid, p, x });
    }

    if (this.model.samples < this.o.warmupSamples || now - s.lastDecisionT < this.o.cooldownMs) return undefined;
    const lot = this.o.orderNotional / mid;
    const exposure = ctx.position + ctx.openQty;
    const th = this.o.threshold;
    let intent: OrderIntent | undefined;
    if (p > 0.5 + th && exposure < this.o.maxLots * lot - lot / 2) {
      intent = {
        symbol: ctx.symbol,
        side: 'buy',
        type: 'limit',
        qty: lot,
        price: book.bestBid(),
        reason: `p=${p.toFixed(3)}`,
      };
    } else if (p < 0.5 - th && exposure > -this.o.maxLots * lot + lot / 2) {
      intent = {
        symbol: ctx.symbol,
        side: 'sell',
        type: 'limit',
        qty: lot,
        price: book.bestAsk(),
        reason: `p=${p.toFixed(3)}`,
      };
    } else if (ctx.openQty === 0 && ((ctx.position > 0 && p < 0.5) || (ctx.position < 0 && p > 0.5))) {
      // Signal turned against the position: flatten at market.
      intent = {
        symbol: ctx.symbol,
        side: ctx.position > 0 ? 'sell' : 'buy',
        type: 'market',
        qty: Math.abs(ctx.position),
        reason: `exit p=${p.toFixed(3)}`,
      };
    }
    if (intent) {
      s.lastDecisionT = now;
      this.decisions++;
    }
    return intent;
  }

  private label(s: SymbolState, mid: number, now: number): void {
    const horizon = this.o.horizonMs;
    const th = this.o.threshold;
    let i = 0;
    while (i < s.pending.length && now - (s.pending[i] as Pending).t >= horizon) {
      const sample = s.pending[i] as Pending;
      i++;
      s.pool.push(sample.x);
      if (mid === sample.mid) continue;
      const y = mid > sample.mid ? 1 : 0;
      this.model.update(sample.x, y);
      this.labelled++;
      if (Math.abs(sample.p - 0.5) > th) {
        this.confident++;
        const hit = (sample.p > 0.5 ? 1 : 0) === y;
        if (hit) this.hits++;
        this.onPrediction?.(hit);
      }
    }
    if (i > 0) s.pending.splice(0, i);
  }

  /**
   * The learned state: the model (weights, bias, samples trained on), the prediction counters and each symbol's
   * momentum average. Labelled-but-pending samples and the decision timers are not kept: they run on this process's
   * monotonic clock.
   */
  exportState(): ScalpingStrategyState {
    const symbols: Record<string, { ewmaMid: number }> = {};
    for (const [symbol, s] of this.states) if (Number.isFinite(s.ewmaMid)) symbols[symbol] = { ewmaMid: s.ewmaMid };
    return {
      v: 1,
      weights: Array.from(this.model.weights),
      bias: this.model.bias,
      samples: this.model.samples,
      labelled: this.labelled,
      confident: this.confident,
      hits: this.hits,
      decisions: this.decisions,
      symbols,
    };
  }

  /** Restores {@link exportState}'s output. @throws TraderError `E_TRADER_INVALID_OPTION` naming the bad field. */
  importState(state: unknown): void {
    const st = checkState(state, this.model.dimensions);
    this.model.weights.set(st.weights);
    this.model.bias = st.bias;
    this.model.samples = st.samples;
    this.labelled = st.labelled;
    this.confident = st.confident;
    this.hits = st.hits;
    this.decisions = st.decisions;
    for (const [symbol, v] of Object.entries(st.symbols)) {
      const s = this.state(symbol);
      s.ewmaMid = v.ewmaMid;
      // Momentum restarts from the kept average on this process's clock.
      s.lastT = Number.NaN;
    }
  }

  /** Model metrics: samples, hit rate of confident predictions, inference latency percentiles (ms). */
  stats(): Record<string, unknown> {
    return {
      name: this.name,
      samples: this.model.samples,
      labelled: this.labelled,
      confidentPredictions: this.confident,
      hits: this.hits,
      hitRate: this.confident === 0 ? 0 : this.hits / this.confident,
      decisions: this.decisions,
      lastProbability: this.lastP,
      inferenceLatencyMs: this.inferenceLatency.percentiles(),
      weights: Array.from(this.model.weights),
    };
  }
}
