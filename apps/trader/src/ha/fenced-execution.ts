import type { ExecutionClient, ExecutionEvent } from '../model/execution-client.js';
import type { MarketEvent, Order } from '../model/types.js';

/** Options of {@link FencedExecution}. */
export interface FencedExecutionOptions {
  /** The venue. */
  inner: ExecutionClient;
  /**
   * Resolves when every event-stream record appended so far is durable (so the journal entry of the action about to
   * be sent is committed); rejects when it cannot be (fenced, Redis away past the flush timeout).
   */
  commit: () => Promise<void>;
  /** True while this engine holds the lease by its own monotonic clock. */
  leaseValid: () => boolean;
  /** Told why an action was refused because this engine is no longer (or may no longer be) the leader. */
  onRefused: (reason: string) => void;
}

/**
 * The execution client of an active engine under active/standby: enforces the durability rule and the fencing on
 * every venue action.
 *
 * - A submit goes to the venue only once its `order.submitted` entry is committed (durable in the event stream):
 *   the next leader's journal then holds every order the venue may have seen. When the commit fails the order is
 *   reported `rejected` to the engine (its state stays consistent) and nothing is sent.
 * - Every submit and cancel is sent only while the lease is valid locally, checked just before sending.
 * - Actions keep their order (a cancel never overtakes the submit it cancels): they run through one queue.
 */
export class FencedExecution implements ExecutionClient {
  readonly name: string;
  readonly venueStateSurvivesRestart: boolean;
  readonly onMarketEvent?: (ev: MarketEvent) => void;
  readonly reconcile?: (openOrders: readonly Readonly<Order>[]) => void;
  #queue: Promise<void> = Promise.resolve();
  #listeners: ((event: ExecutionEvent) => void)[] = [];
  /** Actions refused (lease not valid, or the entry could not be committed). */
  refused = 0;

  constructor(private readonly options: FencedExecutionOptions) {
    const { inner } = options;
    this.name = `fenced-${inner.name}`;
    this.venueStateSurvivesRestart = inner.venueStateSurvivesRestart;
    if (inner.onMarketEvent !== undefined) this.onMarketEvent = inner.onMarketEvent.bind(inner);
    if (inner.reconcile !== undefined) this.reconcile = inner.reconcile.bind(inner);
  }

  submit(order: Readonly<Order>): void {
    this.#enqueue(async () => {
      try {
        await this.options.commit();
      } catch (e) {
        this.#refuse(
          order.clientOrderId,
          `its journal entry is not committed to the event stream: ${(e as Error).message}`,
        );
        return;
      }
      if (!this.options.leaseValid()) {
        this.#refuse(order.clientOrderId, 'the engine lease is not valid');
        return;
      }
      this.options.inner.submit(order);
    });
  }

  cancel(clientOrderId: string): void {
    this.#enqueue(() => {
      if (!this.options.leaseValid()) {
        this.refused++;
        this.options.onRefused(`cancel of ${clientOrderId} not sent: the engine lease is not valid`);
        return;
      }
      this.options.inner.cancel(clientOrderId);
    });
  }

  onEvent(listener: (event: ExecutionEvent) => void): void {
    this.#listeners.push(listener);
    this.options.inner.onEvent(listener);
  }

  close(): Promise<void> {
    return this.options.inner.close();
  }

  #enqueue(action: () => Promise<void> | void): void {
    this.#queue = this.#queue.then(action).catch((e: unknown) => {
      this.options.onRefused(`venue action failed: ${(e as Error).message}`);
    });
  }

  /** The order never reaches the venue: the engine learns it as a reject, like a venue refusal. */
  #refuse(clientOrderId: string, reason: string): void {
    this.refused++;
    this.options.onRefused(`order ${clientOrderId} not sent: ${reason}`);
    const event: ExecutionEvent = { type: 'rejected', clientOrderId, reason, ts: Date.now() };
    for (const l of this.#listeners) l(event);
  }
}
