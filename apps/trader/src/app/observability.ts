import {
  type AlertRule,
  type ModelMetrics,
  Monitoring,
  SlackNotifier,
  type TradingMetrics,
  WebhookNotifier,
} from '@cryptoscalp/monitoring';
import { Gauge, Histogram } from 'prom-client';
import type { TraderConfig } from '../config/config-types.js';
import type { TradingEngine } from '../engine/trading-engine.js';
import type { LatencyRecorder } from '../internal/latency-recorder.js';
import type { Fill } from '../model/types.js';
import type { ScalpingStrategy } from '../strategy/scalping-strategy.js';

/** Stage names of `cryptoscalp_trader_stage_latency_seconds{stage}`. */
export const STAGES = {
  exchangeToReceive: 'exchange_to_receive',
  decode: 'decode',
  book: 'book',
  strategy: 'strategy',
  risk: 'risk',
  journal: 'journal',
  tickToDecision: 'tick_to_decision',
  tickToJournaled: 'tick_to_journaled',
  orderToFill: 'order_to_fill',
} as const;

/** Decisions the learned budget needs before it is set: a p99 of fewer says little. */
const MIN_CALIBRATION_SAMPLES = 500;

/** How {@link DecisionLatencyBudget} gets its budget. */
export interface DecisionLatencyBudgetOptions {
  /** A fixed budget in ms; 0 learns it from the first `calibrationMs` of decisions. */
  budgetMs: number;
  /** The learned budget is the p99 at the end of calibration times this. */
  margin: number;
  /** How long the trader decides before the budget is learned, ms. */
  calibrationMs: number;
  /** When the trader started deciding (ms, same clock as the `now` given to the methods). */
  startedAt: number;
}

/**
 * The tick-to-decision budget of the `DecisionLatencyBudget` alert: configured, or learned from this machine, as
 * the p99 of the trader's own decisions over its first minute times a margin (the p99 of an ordinary run depends
 * on the host and its load far more than on the code, so a fixed default fires on a busy host and says nothing on
 * an idle one). Until it is learned there is no budget and the rule has no data.
 */
export class DecisionLatencyBudget {
  #learned: number | undefined;

  constructor(
    private readonly recorder: LatencyRecorder,
    private readonly options: DecisionLatencyBudgetOptions,
  ) {}

  /** True when the budget comes from the configuration. */
  get configured(): boolean {
    return this.options.budgetMs > 0;
  }

  /** The budget in ms, or undefined while it is still being learned. */
  budgetMs(now: number): number | undefined {
    if (this.options.budgetMs > 0) return this.options.budgetMs;
    if (
      this.#learned === undefined &&
      now - this.options.startedAt >= this.options.calibrationMs &&
      this.recorder.count >= MIN_CALIBRATION_SAMPLES
    ) {
      const p99 = this.p99();
      if (p99 !== undefined) this.#learned = p99 * this.options.margin;
    }
    return this.#learned;
  }

  /** The p99 (ms, two decimals) while it is over the budget, 0 while within it, undefined while there is no budget. */
  overBudget(now: number): number | undefined {
    const budget = this.budgetMs(now);
    const p99 = this.p99();
    if (budget === undefined || p99 === undefined) return undefined;
    return p99 > budget ? Math.round(p99 * 100) / 100 : 0;
  }

  /** The p99 over the recorder's window (its most recent decisions), ms. */
  private p99(): number | undefined {
    const p99 = this.recorder.percentiles([99]).p99;
    return p99 !== undefined && Number.isFinite(p99) ? p99 : undefined;
  }
}

/** Extra inputs of the alert rules. */
export interface ObservabilityInputs {
  /** Market-data errors so far (malformed frames + gaps), for the error-rate rule. */
  marketDataErrors: () => number;
}

/**
 * Builds the trader's `@cryptoscalp/monitoring` instance: stage latency histograms fed from the engine's recorders,
 * business and model metrics, and the alert rules (feed stale, drawdown, market-data error rate, decision latency
 * budget, kill switch engaged) with notifiers from the configuration.
 */
export function createObservability(config: TraderConfig, engine: TradingEngine, inputs: ObservabilityInputs) {
  const budget = new DecisionLatencyBudget(engine.latency.tickToDecision, {
    budgetMs: config.alerts.decisionLatencyBudgetMs,
    margin: config.alerts.decisionLatencyMargin,
    calibrationMs: config.alerts.decisionLatencyCalibrationMs,
    startedAt: Date.now(),
  });
  const budgetText = budget.configured
    ? `the ${config.alerts.decisionLatencyBudgetMs.toFixed(2)} ms budget`
    : `the budget learned at start (cryptoscalp_trader_decision_budget_seconds: first minute's p99 × ${config.alerts.decisionLatencyMargin})`;
  const rules: AlertRule[] = [
    {
      name: 'FeedStale',
      condition: {
        type: 'custom',
        read: () => {
          let worst = 0;
          const now = Date.now();
          for (const s of config.symbols) {
            const at = engine.lastEventAt.get(s);
            worst = Math.max(worst, at === undefined ? 0 : now - at);
          }
          return worst;
        },
        op: '>',
        value: config.alerts.feedStaleMs,
      },
      severity: 'critical',
      annotations: { summary: 'no market data for {{value}} ms' },
    },
    {
      name: 'Drawdown',
      condition: {
        type: 'custom',
        read: () => Math.round(engine.portfolio.totals().drawdown * 100) / 100,
        op: '>',
        value: config.risk.maxDrawdown * 0.8,
      },
      severity: 'warning',
      annotations: { summary: `drawdown {{value}} is above 80% of the ${config.risk.maxDrawdown.toFixed(2)} limit` },
    },
    {
      name: 'MarketDataErrors',
      condition: errorRate(inputs.marketDataErrors),
      for: '10s',
      severity: 'warning',
      annotations: { summary: '{{value}} malformed frames or gaps per second' },
    },
    {
      name: 'DecisionLatencyBudget',
      condition: { type: 'custom', read: () => budget.overBudget(Date.now()), op: '>', value: 0 },
      for: '30s',
      severity: 'warning',
      annotations: { summary: `tick-to-decision p99 {{value}} ms over ${budgetText}` },
    },
    {
      name: 'BookOutOfSync',
      condition: {
        type: 'custom',
        read: () => config.symbols.filter((s) => !engine.isSynced(s)).length,
        op: '>',
        value: 0,
      },
      for: '5s',
      severity: 'warning',
      annotations: { summary: '{{value}} order books out of sync with their venue (no new orders on them)' },
    },
    {
      name: 'JournalUnavailable',
      condition: { type: 'custom', read: () => (engine.journalDown === undefined ? 0 : 1), op: '==', value: 1 },
      severity: 'critical',
      annotations: { summary: 'journal appends fail (disk full?): no new orders until they succeed' },
    },
    {
      name: 'KillSwitchEngaged',
      condition: { type: 'custom', read: () => (engine.state === 'RUNNING' ? 0 : 1), op: '==', value: 1 },
      severity: 'critical',
      annotations: { summary: 'trading state is not RUNNING' },
    },
  ];
  const notifiers = [];
  if (config.alerts.slackToken && config.alerts.slackChannel) {
    notifiers.push(new SlackNotifier({ token: config.alerts.slackToken, channel: config.alerts.slackChannel }));
  }
  if (config.alerts.webhookUrl) notifiers.push(new WebhookNotifier({ url: config.alerts.webhookUrl }));
  const monitoring = new Monitoring({
    name: 'monitoring',
    systemMetrics: false,
    alerting: { rules, notifiers, evaluationInterval: '5s' },
  });
  const stage = new Histogram({
    name: 'cryptoscalp_trader_stage_latency_seconds',
    help: 'Latency of each trading stage (exchange timestamp to receipt, decode, book, strategy, risk, journal; tick to decision and to journaled).',
    labelNames: ['stage'],
    buckets: [
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
    ],
    registers: [monitoring.registry],
  });
  new Gauge({
    name: 'cryptoscalp_trader_decision_budget_seconds',
    help: 'Tick-to-decision p99 budget of the DecisionLatencyBudget alert (source: configured, or learned at start); absent while learning.',
    labelNames: ['source'],
    registers: [monitoring.registry],
    collect() {
      const ms = budget.budgetMs(Date.now());
      if (ms !== undefined) this.set({ source: budget.configured ? 'configured' : 'learned' }, ms / 1000);
    },
  });
  for (const [key, label] of Object.entries(STAGES)) {
    const child = stage.labels(label);
    const recorder = engine.latency[key as keyof typeof STAGES];
    recorder.sink = (ms) => child.observe(ms / 1000);
  }
  const trading: TradingMetrics = monitoring.trading();
  const models: ModelMetrics = monitoring.models();
  const strategyName = engine.strategy.name;
  const scalper = engine.strategy as Partial<ScalpingStrategy>;
  if (scalper.inferenceLatency && 'onPrediction' in scalper) {
    scalper.inferenceLatency.sink = (ms) => models.observeInference(strategyName, ms / 1000);
    (scalper as ScalpingStrategy).onPrediction = (hit) => models.recordPrediction(strategyName, hit);
  }
  let lastRealized = new Map<string, number>();
  const onFill = (fill: Fill) => {
    const after = engine.portfolio.snapshot(fill.symbol);
    const before = lastRealized.get(fill.symbol) ?? 0;
    lastRealized.set(fill.symbol, after.realized);
    const realized = after.realized - before;
    trading.recordTrade({
      strategy: strategyName,
      symbol: fill.symbol,
      side: fill.side,
      quantity: fill.qty,
      price: fill.price,
      ...(realized !== 0 ? { realizedPnl: realized, fee: fill.fee } : {}),
    });
  };
  const refresh = () => {
    for (const p of engine.portfolio.snapshots()) {
      trading.setUnrealizedPnl(strategyName, p.symbol, p.unrealized);
      trading.setExposure(strategyName, p.symbol, p.qty * p.mark);
    }
    const t = engine.portfolio.totals();
    trading.setEquity(strategyName, t.net);
    // The trader's equity is PnL from 0, not an account balance, so a fraction of its peak means nothing; the ratio
    // is the risk engine's own drawdown over its limit (1 = the drawdown rule engages), from the same figures.
    const ratio = t.drawdown / config.risk.maxDrawdown;
    trading.setDrawdown(strategyName, ratio, Math.max(ratio, t.maxDrawdown / config.risk.maxDrawdown));
  };
  lastRealized = new Map(engine.portfolio.snapshots().map((p) => [p.symbol, p.realized]));
  return {
    monitoring,
    onFill,
    refresh,
    close: async () => {
      await monitoring.close();
    },
  };
}

/** A per-second rate of a monotonically growing count, read at each evaluation. */
function errorRate(read: () => number) {
  let lastValue = read();
  let lastAt = Date.now();
  return {
    type: 'custom' as const,
    read: () => {
      const now = Date.now();
      const value = read();
      const dt = (now - lastAt) / 1000;
      const rate = dt > 0 ? (value - lastValue) / dt : 0;
      lastValue = value;
      lastAt = now;
      return rate;
    },
    op: '>' as const,
    value: 1,
  };
}
