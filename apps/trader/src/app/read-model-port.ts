import type { CommandBus } from '../bus/types.js';
import { isTraderError } from '../errors.js';
import { ApiError } from '../http/errors.js';
import type {
  AlertView,
  PnlView,
  PositionView,
  RiskMode,
  RiskView,
  StatusView,
  TraderEvent,
  TraderPort,
} from '../http/trader-port.js';
import type { ReadModel, ReadModelChange } from '../read-model/read-model.js';
import { COMMANDS, type CommandResult } from './command-handler.js';

/** Options of {@link createReadModelPort}. */
export interface ReadModelPortOptions {
  /** The read model the queries read. */
  model: ReadModel;
  /** Commands go to the engine over this bus (in process for `--role all`, Redis for gateways). */
  commands: CommandBus;
  /** Resolves once the model has applied an offset (read your writes), `false` on timeout. */
  waitFor: (offset: number, timeoutMs: number) => Promise<boolean>;
  /** Command timeout. */
  commandTimeoutMs: number;
  /** This process's own components (the engine's come with its status records). */
  components: () => Promise<StatusView['components']>;
  /** Live events kept for new subscribers (the stream hub's history after a restart). @default 2000 */
  retainEvents?: number;
}

/** A {@link TraderPort} with `close()`. */
export interface ReadModelPort extends TraderPort {
  close(): void;
}

/**
 * The API's view of the trader in every role: queries answered from the {@link ReadModel}, commands sent to the
 * engine over the {@link CommandBus} with a timeout (504 when the engine does not answer in time; the command's
 * deadline makes a late engine drop it unapplied), answered once the model shows their effect. Live events carry
 * the stream offset they were published at, so every gateway numbers them alike.
 */
export function createReadModelPort(options: ReadModelPortOptions): ReadModelPort {
  const { model, commands } = options;
  const retain = options.retainEvents ?? 2_000;
  const listeners = new Set<(e: TraderEvent) => void>();
  const history: TraderEvent[] = [];
  let lastPositionsAt = 0;
  let lastAlerts = new Map<string, { key: string; alert: AlertView }>();

  const positionView = (s: ReturnType<ReadModel['positions']>[number]): PositionView => ({
    symbol: s.symbol,
    qty: s.qty,
    avgPrice: s.avgPrice,
    markPrice: s.mark,
    notional: Math.abs(s.qty * s.mark),
    realizedPnl: s.realized,
    unrealizedPnl: s.unrealized,
    fees: s.fees,
  });
  const pnl = (): PnlView => {
    const t = model.totals();
    return {
      realized: t.realized,
      unrealized: t.unrealized,
      fees: t.fees,
      total: t.net,
      drawdown: t.drawdown,
      wins: t.wins,
      losses: t.losses,
      ts: Date.now(),
    };
  };
  const risk = (): RiskView => {
    const r = model.riskState();
    const t = model.totals();
    const hold = model.engine()?.releaseHold;
    return {
      mode: r.mode as RiskMode,
      reason: r.reason,
      since: r.since,
      limits: model.engine()?.riskLimits ?? {},
      usage: { exposure: t.exposure, drawdown: t.drawdown, openOrders: model.openOrderCount() },
      ...(hold === undefined ? {} : { releaseHold: { ...hold } }),
    };
  };
  const alertList = (): AlertView[] => (model.engine()?.alerts ?? []) as AlertView[];

  const emit = (e: TraderEvent, keep: boolean) => {
    if (keep) {
      history.push(e);
      if (history.length > retain) history.shift();
    }
    for (const l of listeners) l(e);
  };
  const withOffset = <E extends TraderEvent>(e: E, offset: number): E => ({ ...e, offset }) as E;
  const onChange = (c: ReadModelChange) => {
    switch (c.type) {
      case 'fill': {
        emit(withOffset({ type: 'fill', fill: c.fill }, c.offset), true);
        if (c.historic) return;
        const snap = model.positions().find((s) => s.symbol === c.fill.symbol);
        if (snap !== undefined) emit(withOffset({ type: 'position', position: positionView(snap) }, c.offset), false);
        emit(withOffset({ type: 'pnl', pnl: pnl() }, c.offset), false);
        return;
      }
      case 'market': {
        for (const b of c.books) {
          emit(
            withOffset({ type: 'price', symbol: b.symbol, price: b.mid, bid: b.bid, ask: b.ask, ts: c.ts }, c.offset),
            true,
          );
          emit(withOffset({ type: 'book', symbol: b.symbol, bids: b.bids, asks: b.asks, ts: c.ts }, c.offset), true);
        }
        // Unrealized PnL moves with the marks: positions and PnL about once a second.
        if (c.ts - lastPositionsAt >= 1_000) {
          lastPositionsAt = c.ts;
          for (const s of model.positions())
            emit(withOffset({ type: 'position', position: positionView(s) }, c.offset), false);
          emit(withOffset({ type: 'pnl', pnl: pnl() }, c.offset), false);
        }
        return;
      }
      case 'status': {
        const next = new Map(
          alertList().map((a) => [a.id, { key: `${a.state}|${a.acknowledged}|${a.silenced}`, alert: a }]),
        );
        for (const [id, n] of next)
          if (lastAlerts.get(id)?.key !== n.key) emit(withOffset({ type: 'alert', alert: n.alert }, c.offset), false);
        // An alert that left the active list has resolved.
        for (const [id, last] of lastAlerts)
          if (!next.has(id))
            emit(withOffset({ type: 'alert', alert: { ...last.alert, state: 'resolved' } }, c.offset), false);
        lastAlerts = next;
        return;
      }
      case 'risk':
        return;
    }
  };
  const unsubscribe = model.onChange(onChange);

  const command = async <T>(type: string, payload: unknown): Promise<T> => {
    let reply: Awaited<ReturnType<CommandBus['send']>>;
    try {
      reply = await commands.send(type, payload, { timeoutMs: options.commandTimeoutMs });
    } catch (e) {
      if (isTraderError(e) && e.code === 'E_TRADER_COMMAND_TIMEOUT')
        throw new ApiError(
          'E_API_INTERNAL',
          `the engine did not answer within ${options.commandTimeoutMs} ms; an engine that receives it after its deadline drops it unapplied (check GET /api/risk or /api/orders before retrying)`,
          {
            status: 504,
            cause: e,
          },
        );
      throw new ApiError('E_API_INTERNAL', `the engine could not be reached: ${(e as Error).message}`, {
        status: 503,
        cause: e,
      });
    }
    if (!reply.ok) {
      if (reply.error.code === 'E_TRADER_NOT_CONFIGURED')
        throw new ApiError('E_API_NOT_IMPLEMENTED', reply.error.message);
      if (reply.error.code === 'E_TRADER_COMMAND_EXPIRED')
        throw new ApiError(
          'E_API_INTERNAL',
          'the engine received the command after its deadline and did not apply it',
          { status: 504 },
        );
      throw new ApiError('E_API_BAD_REQUEST', reply.error.message, {
        ...(reply.error.field === undefined ? {} : { field: `body.${reply.error.field}` }),
      });
    }
    const { result, offset } = reply.result as CommandResult<T>;
    await options.waitFor(offset, options.commandTimeoutMs);
    return result;
  };

  return {
    positions: () => model.positions().map(positionView),
    orders: (q) => model.listOrders(q),
    order(id) {
      const order = model.order(id);
      return order === undefined ? undefined : { order, fills: model.recentFills({ clientOrderId: id, limit: 1_000 }) };
    },
    fills: (q) => model.recentFills(q),
    pnl,
    risk,
    strategyParams: () => model.engine()?.strategyParams ?? {},
    setStrategyParams(patch) {
      throw Object.assign(new Error('strategy parameters are read-only in this trader (restart with a new config)'), {
        field: Object.keys(patch)[0] ?? 'params',
      });
    },
    async engageKillSwitch(c) {
      await command(COMMANDS.engageKillSwitch, { mode: c.mode, reason: c.reason, actor: c.actor });
      return risk();
    },
    async releaseKillSwitch(c) {
      await command(COMMANDS.releaseKillSwitch, { reason: c.reason, actor: c.actor });
      return risk();
    },
    cancelOrder: (clientOrderId, actor) => command<boolean>(COMMANDS.cancelOrder, { clientOrderId, actor }),
    alerts: {
      list: alertList,
      silence: (request) => command(COMMANDS.silenceAlert, { request }),
      acknowledge: (id, by) => command<boolean>(COMMANDS.acknowledgeAlert, { id, by }),
    },
    async status() {
      const own = await options.components();
      const engine = model.engine();
      const components = [...own, ...(engine?.components ?? []).map((c) => ({ ...c, name: `engine.${c.name}` }))];
      const worst = components.some((c) => c.status === 'fail')
        ? 'fail'
        : components.some((c) => c.status === 'warn')
          ? 'warn'
          : 'pass';
      return {
        status: worst,
        components,
        latency: engine?.latency ?? {},
        uptimeSec: Math.round(process.uptime()),
        symbols: model.bookTops().map((b) => b.symbol),
        ...(engine?.model === undefined ? {} : { model: engine.model }),
      };
    },
    subscribe(listener) {
      // A new subscriber (the stream bridge of a gateway that just started) gets the retained events first, so the
      // hub's history reaches back past the restart; the hub drops the offsets it already has.
      for (const e of history) listener(e);
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      unsubscribe();
      listeners.clear();
      history.length = 0;
    },
  };
}
