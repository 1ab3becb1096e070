import type {
  ActorRef,
  AlertView,
  Fill,
  KillSwitchCommand,
  Order,
  OrderDetail,
  PnlView,
  PositionView,
  RiskView,
  StatusView,
  StrategyParams,
  TraderEvent,
  TraderPort,
} from '../../src/http/trader-port.js';

/** A small, deterministic trader for the API tests: our own domain object, holding state in memory. */
export class FakeTrader implements TraderPort {
  readonly calls: { method: string; args: unknown[] }[] = [];
  readonly #listeners = new Set<(e: TraderEvent) => void>();
  #risk: RiskView = { mode: 'RUNNING', limits: { maxPositionNotional: 5000, dailyLossLimit: 500 }, usage: {} };
  #params: StrategyParams = { threshold: 0.08, cooldownMs: 50, enabled: true };
  #alerts: AlertView[] = [
    {
      id: 'a-1',
      name: 'feed-stale',
      severity: 'warning',
      state: 'firing',
      summary: 'ETHUSDT feed stale',
      since: 1_700_000_000_000,
    },
  ];
  readonly silences: { id: string; matchers: Record<string, string> }[] = [];
  #positions: PositionView[] = [
    {
      symbol: 'BTCUSDT',
      qty: 0.05,
      avgPrice: 60_000,
      markPrice: 60_100,
      notional: 3005,
      realizedPnl: 12.5,
      unrealizedPnl: 5,
      fees: 1.2,
    },
  ];
  #orders: Order[] = [
    {
      clientOrderId: 'trader-1-000001',
      symbol: 'BTCUSDT',
      side: 'buy',
      type: 'limit',
      qty: 0.05,
      price: 60_000,
      status: 'filled',
      filledQty: 0.05,
      avgPrice: 60_000,
      fees: 1.2,
      createdAt: 1_700_000_000_000,
      updatedAt: 1_700_000_000_100,
    },
    {
      clientOrderId: 'trader-1-000002',
      symbol: 'ETHUSDT',
      side: 'sell',
      type: 'limit',
      qty: 1,
      price: 3_000,
      status: 'accepted',
      filledQty: 0,
      avgPrice: 0,
      fees: 0,
      createdAt: 1_700_000_001_000,
      updatedAt: 1_700_000_001_000,
    },
  ];
  #fills: Fill[] = [
    {
      fillId: 'trader-1-000001-1',
      clientOrderId: 'trader-1-000001',
      symbol: 'BTCUSDT',
      side: 'buy',
      price: 60_000,
      qty: 0.05,
      fee: 1.2,
      liquidity: 'maker',
      ts: 1_700_000_000_100,
    },
  ];
  pnlNow: PnlView = { realized: 12.5, unrealized: 5, fees: 1.2, total: 16.3, drawdown: 0, wins: 3, losses: 1, ts: 1 };

  positions(): PositionView[] {
    return this.#positions;
  }
  orders(q: { symbol?: string; status?: string; limit: number }): Order[] {
    this.calls.push({ method: 'orders', args: [q] });
    return this.#orders
      .filter(
        (o) => (q.symbol === undefined || o.symbol === q.symbol) && (q.status === undefined || o.status === q.status),
      )
      .slice(0, q.limit);
  }
  async order(id: string): Promise<OrderDetail | undefined> {
    const order = this.#orders.find((o) => o.clientOrderId === id);
    return order === undefined ? undefined : { order, fills: this.#fills.filter((f) => f.clientOrderId === id) };
  }
  fills(q: { symbol?: string; since?: number; limit: number }): Fill[] {
    return this.#fills
      .filter((f) => (q.symbol === undefined || f.symbol === q.symbol) && (q.since === undefined || f.ts >= q.since))
      .slice(0, q.limit);
  }
  pnl(): PnlView {
    return this.pnlNow;
  }
  risk(): RiskView {
    return this.#risk;
  }
  strategyParams(): StrategyParams {
    return this.#params;
  }
  setStrategyParams(patch: StrategyParams, actor: ActorRef): StrategyParams {
    this.calls.push({ method: 'setStrategyParams', args: [patch, actor] });
    for (const [k, v] of Object.entries(patch)) {
      if (!(k in this.#params)) throw Object.assign(new Error(`unknown parameter ${k}`), { field: k });
      if (typeof v !== typeof this.#params[k])
        throw Object.assign(new Error(`${k} must be a ${typeof this.#params[k]}`), { field: k });
      if (k === 'threshold' && ((v as number) <= 0 || (v as number) >= 0.5))
        throw Object.assign(new Error('threshold must be in (0, 0.5)'), { field: k });
    }
    this.#params = { ...this.#params, ...patch };
    return this.#params;
  }
  engageKillSwitch(c: KillSwitchCommand): RiskView {
    this.calls.push({ method: 'engageKillSwitch', args: [c] });
    this.#risk = { ...this.#risk, mode: c.mode, reason: c.reason, since: Date.now() };
    return this.#risk;
  }
  releaseKillSwitch(c: { reason: string; actor: ActorRef }): RiskView {
    this.calls.push({ method: 'releaseKillSwitch', args: [c] });
    this.#risk = { ...this.#risk, mode: 'RUNNING', reason: c.reason, since: Date.now() };
    return this.#risk;
  }
  cancelOrder(id: string): boolean {
    const o = this.#orders.find((x) => x.clientOrderId === id);
    if (o === undefined || o.status === 'filled' || o.status === 'cancelled') return false;
    o.status = 'cancelled';
    return true;
  }
  readonly alerts = {
    list: (): AlertView[] => this.#alerts,
    silence: (r: { matchers: Record<string, string>; durationMs: number }) => {
      const id = `s-${this.silences.length + 1}`;
      this.silences.push({ id, matchers: r.matchers });
      return { id, endsAt: 1_700_000_000_000 + r.durationMs };
    },
    acknowledge: (id: string): boolean => {
      const a = this.#alerts.find((x) => x.id === id);
      if (a === undefined) return false;
      a.acknowledged = true;
      return true;
    },
  };
  status(): StatusView {
    return {
      status: 'pass',
      components: [
        { name: 'postgres', status: 'pass' },
        { name: 'cache', status: 'pass' },
        { name: 'ws-manager', status: 'warn', output: '1 endpoint reconnecting' },
      ],
      latency: { decision: { p50: 0.12, p99: 0.61, p999: 0.9 }, journal: { p50: 0.8, p99: 2.4 } },
      uptimeSec: 42,
      symbols: ['BTCUSDT', 'ETHUSDT'],
      model: {
        samples: 1234,
        confidentPredictions: 200,
        hits: 117,
        hitRate: 0.585,
        inferenceLatencyMs: { p50: 0.004, p99: 0.0312 },
      },
    };
  }
  subscribe(listener: (e: TraderEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  /** Publishes a live event to the API. */
  emit(e: TraderEvent): void {
    for (const l of this.#listeners) l(e);
  }
  get listenerCount(): number {
    return this.#listeners.size;
  }
}
