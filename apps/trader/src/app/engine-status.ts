import type { TraderConfig } from '../config/config-types.js';
import type { TradingEngine } from '../engine/trading-engine.js';
import type { EngineStatus } from '../read-model/trader-record.js';

/**
 * The engine's status record for the event stream: its state, stage latency percentiles (ms), risk limits,
 * strategy parameters and counters, with the component health and active alerts the caller gathered.
 */
export function buildEngineStatus(
  config: TraderConfig,
  engine: TradingEngine,
  extra: { components: EngineStatus['components']; alerts: EngineStatus['alerts'] },
): EngineStatus {
  const latency: EngineStatus['latency'] = {};
  for (const [stage, rec] of Object.entries(engine.latency)) {
    const p = rec.percentiles([50, 99, 99.9]) as Record<string, number>;
    if (!Number.isFinite(p.p50)) continue;
    latency[stage] = { p50: p.p50 as number, p99: p.p99 as number, p999: p.p999 as number };
  }
  return {
    instanceId: config.instanceId,
    state: engine.state,
    components: extra.components,
    latency,
    riskLimits: numbers(config.risk),
    strategyParams: scalars(config.strategy),
    alerts: extra.alerts,
    counters: { ...engine.counters },
    model: modelStats(engine.strategy.stats()),
    ...releaseHold(engine),
  };
}

/** The kill-switch release hold, while one holds. */
function releaseHold(engine: TradingEngine): { releaseHold?: NonNullable<EngineStatus['releaseHold']> } {
  const hold = engine.risk.releaseHoldState();
  return hold === undefined ? {} : { releaseHold: hold };
}

/** The strategy's model figures the dashboard shows: the finite numbers among its stats, latency percentiles in ms. */
function modelStats(stats: Record<string, unknown>): NonNullable<EngineStatus['model']> {
  const out: NonNullable<EngineStatus['model']> = {};
  for (const key of ['samples', 'confidentPredictions', 'hits', 'hitRate', 'decisions'] as const) {
    const v = stats[key];
    if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
  }
  const latency = stats.inferenceLatencyMs;
  if (typeof latency === 'object' && latency !== null) {
    const p = latency as Record<string, unknown>;
    if (typeof p.p50 === 'number' && Number.isFinite(p.p50) && typeof p.p99 === 'number' && Number.isFinite(p.p99))
      out.inferenceLatencyMs = { p50: p.p50, p99: p.p99 };
  }
  return out;
}

function numbers(o: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = v;
  return out;
}

function scalars(o: object): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const [k, v] of Object.entries(o))
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
  return out;
}
