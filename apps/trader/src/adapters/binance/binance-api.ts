import { TraderError } from '../../errors.js';
import type { BinanceRestClient } from './rest-client.js';

/** `GET /api/v3/exchangeInfo`: one symbol's trading rules, as far as the adapter uses them. */
export interface SymbolRules {
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  /** PRICE_FILTER `tickSize` (0: no rule). */
  readonly tickSize: number;
  /** LOT_SIZE `stepSize`. */
  readonly stepSize: number;
  /** LOT_SIZE `minQty`. */
  readonly minQty: number;
  /** NOTIONAL / MIN_NOTIONAL `minNotional` (0: no rule). */
  readonly minNotional: number;
}

/** An order as `GET /api/v3/order`, `GET /api/v3/openOrders` and `DELETE /api/v3/order` return it. */
export interface VenueOrder {
  symbol: string;
  orderId: number;
  clientOrderId: string;
  origClientOrderId?: string;
  price: string;
  origQty: string;
  executedQty: string;
  status:
    | 'NEW'
    | 'PARTIALLY_FILLED'
    | 'FILLED'
    | 'CANCELED'
    | 'PENDING_CANCEL'
    | 'REJECTED'
    | 'EXPIRED'
    | 'EXPIRED_IN_MATCH';
  type: string;
  side: 'BUY' | 'SELL';
  time?: number;
  updateTime?: number;
}

/** A trade of the account (`GET /api/v3/myTrades`). */
export interface VenueTrade {
  symbol: string;
  id: number;
  orderId: number;
  price: string;
  qty: string;
  commission: string;
  commissionAsset: string;
  time: number;
  isBuyer: boolean;
  isMaker: boolean;
}

/** One balance of `GET /api/v3/account`. */
export interface VenueBalance {
  asset: string;
  free: string;
  locked: string;
}

interface RawFilter {
  filterType: string;
  tickSize?: string;
  stepSize?: string;
  minQty?: string;
  minNotional?: string;
}

/** Parses `exchangeInfo` into rules by symbol. @throws TraderError `E_TRADER_MALFORMED` */
export function parseExchangeInfo(body: unknown): Map<string, SymbolRules> {
  const symbols = (body as { symbols?: unknown })?.symbols;
  if (!Array.isArray(symbols)) throw new TraderError('E_TRADER_MALFORMED', 'exchangeInfo without symbols');
  const out = new Map<string, SymbolRules>();
  for (const s of symbols as Array<{ symbol: string; baseAsset: string; quoteAsset: string; filters?: RawFilter[] }>) {
    const filters = s.filters ?? [];
    const get = (type: string) => filters.find((f) => f.filterType === type);
    const notional = get('NOTIONAL') ?? get('MIN_NOTIONAL');
    out.set(s.symbol, {
      symbol: s.symbol,
      baseAsset: s.baseAsset,
      quoteAsset: s.quoteAsset,
      tickSize: Number(get('PRICE_FILTER')?.tickSize ?? 0),
      stepSize: Number(get('LOT_SIZE')?.stepSize ?? 0),
      minQty: Number(get('LOT_SIZE')?.minQty ?? 0),
      minNotional: Number(notional?.minNotional ?? 0),
    });
  }
  return out;
}

/** Decimals of a step such as `0.00100000` (3). */
function decimals(step: number): number {
  if (!(step > 0)) return 8;
  const s = step.toString();
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** `value` rounded down to a multiple of `step` (toward zero), as the venue's decimal string. */
export function floorToStep(value: number, step: number): string {
  if (!(step > 0)) return String(value);
  const d = decimals(step);
  // A tiny epsilon keeps 0.3 / 0.1 = 2.9999999999999996 from flooring to 2.
  const units = Math.floor(value / step + 1e-9);
  return (units * step).toFixed(d);
}

/** `value` rounded to the nearest multiple of `step`, as the venue's decimal string. */
export function roundToStep(value: number, step: number): string {
  if (!(step > 0)) return String(value);
  return (Math.round(value / step) * step).toFixed(decimals(step));
}

/** The Binance spot endpoints the live adapter uses, typed. */
export class BinanceSpotApi {
  constructor(readonly rest: BinanceRestClient) {}

  async exchangeInfo(symbols: readonly string[]): Promise<Map<string, SymbolRules>> {
    const body = await this.rest.request<unknown>('GET', '/api/v3/exchangeInfo', {
      symbols: JSON.stringify(symbols),
    });
    return parseExchangeInfo(body);
  }

  newOrder(params: {
    symbol: string;
    side: 'BUY' | 'SELL';
    type: 'LIMIT' | 'MARKET';
    quantity: string;
    price?: string;
    newClientOrderId: string;
  }): Promise<{ symbol: string; orderId: number; clientOrderId: string; transactTime: number }> {
    return this.rest.request(
      'POST',
      '/api/v3/order',
      {
        symbol: params.symbol,
        side: params.side,
        type: params.type,
        ...(params.type === 'LIMIT' ? { timeInForce: 'GTC', price: params.price } : {}),
        quantity: params.quantity,
        newClientOrderId: params.newClientOrderId,
        newOrderRespType: 'ACK',
      },
      { signed: true },
    );
  }

  cancelOrder(symbol: string, origClientOrderId: string): Promise<VenueOrder> {
    return this.rest.request('DELETE', '/api/v3/order', { symbol, origClientOrderId }, { signed: true });
  }

  getOrder(symbol: string, by: { origClientOrderId: string } | { orderId: number }): Promise<VenueOrder> {
    return this.rest.request('GET', '/api/v3/order', { symbol, ...by }, { signed: true });
  }

  openOrders(symbol: string): Promise<VenueOrder[]> {
    return this.rest.request('GET', '/api/v3/openOrders', { symbol }, { signed: true });
  }

  myTrades(
    symbol: string,
    from: { startTime: number } | { fromId: number } | { orderId: number },
    limit = 1000,
  ): Promise<VenueTrade[]> {
    return this.rest.request('GET', '/api/v3/myTrades', { symbol, ...from, limit }, { signed: true });
  }

  async balances(): Promise<VenueBalance[]> {
    const body = await this.rest.request<{ balances?: VenueBalance[] }>(
      'GET',
      '/api/v3/account',
      { omitZeroBalances: true },
      { signed: true },
    );
    if (!Array.isArray(body.balances)) throw new TraderError('E_TRADER_MALFORMED', 'account without balances');
    return body.balances;
  }
}
