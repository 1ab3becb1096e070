import type { Fill, Order } from './types.js';

/** What a venue (or the paper simulator) reports about an order. */
export type ExecutionEvent =
  | { type: 'accepted'; clientOrderId: string; ts: number }
  | { type: 'rejected'; clientOrderId: string; reason: string; ts: number }
  | { type: 'cancelled'; clientOrderId: string; reason: string; ts: number }
  | { type: 'fill'; fill: Fill };

/**
 * Where orders go: the paper simulator or a real venue. `submit` and `cancel` return at once; outcomes arrive
 * as {@link ExecutionEvent}s through the listener, in order per client order id. Fill ids must be deterministic
 * (`<clientOrderId>-<n>`) so a replayed fill is recognized.
 */
export interface ExecutionAdapter {
  readonly name: string;
  submit(order: Readonly<Order>): void;
  cancel(clientOrderId: string): void;
  onEvent(listener: (event: ExecutionEvent) => void): void;
  /** Cancels pending work; idempotent. */
  close(): Promise<void>;
}
