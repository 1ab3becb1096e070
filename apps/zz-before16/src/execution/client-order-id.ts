/**
 * Deterministic client order ids: `<instanceId>-<counter>` with a zero-padded decimal counter. The counter
 * is restored from the journal on start ({@link ClientOrderIdGenerator.advancePast}), so a restarted trader
 * never reuses an id, and a replay produces the same ids.
 */
export class ClientOrderIdGenerator {
  private counter: number;

  constructor(
    readonly instanceId: string,
    start = 0,
  ) {
    this.counter = start;
  }

  /** The next id. */
  next(): string {
    this.counter++;
    return ClientOrderIdGenerator.format(this.instanceId, this.counter);
  }

  /** The counter value of the last issued id. */
  get last(): number {
    return this.counter;
  }

  /** Makes sure later ids come after `clientOrderId` (when it is one of ours). */
  advancePast(clientOrderId: string): void {
    const prefix = `${this.instanceId}-`;
    if (!clientOrderId.startsWith(prefix)) return;
    const n = Number(clientOrderId.slice(prefix.length));
    if (Number.isInteger(n) && n > this.counter) this.counter = n;
  }

  /** Formats an id. */
  static format(instanceId: string, counter: number): string {
    return `${instanceId}-${String(counter).padStart(10, '0')}`;
  }
}
