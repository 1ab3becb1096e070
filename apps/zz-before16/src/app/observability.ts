import {
  type AlertRule,
  type ModelMetrics,
  Monitoring,
  SlackNotifier,
  type TradingMetrics,
  WebhookNotifier,
} from '@cryptoscalp/monitoring';
import { Histogram } from 'prom-client';
import type { TraderConfig } from '../config/config-types.js';
import type { TradingEngine } from '../engine/trading-engine.js';
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
        read: () => engine.portfolio.totals().drawdown,
        op: '>',
        value: config.risk.maxDrawdown * 0.8,
      },
      severity: 'warning',
      annotations: { summary: 'drawdown {{value}} is above 80% of the limit' },
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
      condition: {
        type: 'quantile',
        metric: 'cryptoscalp_trader_stage_latency_seconds',
        matchers: { stage: STAGES.tickToDecision },
        quantile: 0.99,
        window: '1m',
        op: '>',
        value: config.alerts.decisionLatencyBudgetMs / 1000,
      },
      for: '30s',
      severity: 'warning',
      annotations: { summary: 'tick-to-decision p99 {{value}} s over budget' },
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
    trading.setEquity(strategyName, engine.portfolio.totals().net);
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
