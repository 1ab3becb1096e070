import type { TradingState } from '../risk/kill-switch.js';
import type { Fill, OrderType, Side } from './types.js';

/** Journal entry types and their payloads. Every state change of the trader is one of these. */
export interface JournalEvents {
  'session.start': { instanceId: string; pid: number; startedAt: string };
  'order.submitted': {
    clientOrderId: string;
    symbol: string;
    side: Side;
    type: OrderType;
    qty: number;
    price?: number;
    reason?: string;
  };
  'order.accepted': { clientOrderId: string };
  'order.rejected': { clientOrderId: string; reason: string };
  'order.cancel_requested': { clientOrderId: string; reason: string };
  'order.cancelled': { clientOrderId: string; reason: string };
  fill: Fill;
  'risk.state': { from: TradingState; to: TradingState; reason: string; by: 'rule' | 'operator' };
}

/** Names of the journal entry types. */
export type JournalEventType = keyof JournalEvents;
