/** Trading states: RUNNING (all orders), REDUCING (only risk-reducing orders and cancels), HALTED (only cancels). */
export type TradingState = 'RUNNING' | 'REDUCING' | 'HALTED';

/** A state change of the kill switch. */
export interface KillSwitchChange {
  from: TradingState;
  to: TradingState;
  reason: string;
  /** Who changed it: a risk rule or the operator. */
  by: 'rule' | 'operator';
  at: number;
}

/** How severe each state is: rules only move up, an operator's move down is a release. */
export const SEVERITY: Readonly<Record<TradingState, number>> = { RUNNING: 0, REDUCING: 1, HALTED: 2 };

/**
 * The kill switch. Rules can only escalate (RUNNING -> REDUCING -> HALTED); the operator can set any state,
 * which is how trading resumes after a rule tripped.
 */
export class KillSwitch {
  private current: TradingState = 'RUNNING';
  private lastReason = 'start';
  private readonly listeners = new Set<(change: KillSwitchChange) => void>();

  /**
   * @param beforeChange called synchronously before a change takes effect (the trader journals it there, so the
   *   journal holds the change before anything acts on it). @default undefined
   */
  constructor(private readonly beforeChange?: (change: KillSwitchChange) => void) {}

  get state(): TradingState {
    return this.current;
  }

  get reason(): string {
    return this.lastReason;
  }

  /** Registers a listener for changes; returns the unsubscribe function. */
  onChange(listener: (change: KillSwitchChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A rule asks for at least `state`; ignored when the switch is already as severe. Returns true if it changed. */
  trip(state: TradingState, reason: string, at = Date.now()): boolean {
    if (SEVERITY[state] <= SEVERITY[this.current]) return false;
    this.change(state, reason, 'rule', at);
    return true;
  }

  /** The operator sets the state (engage or release). */
  set(state: TradingState, reason: string, at = Date.now()): void {
    if (state === this.current) return;
    this.change(state, reason, 'operator', at);
  }

  /** Restores a state from the journal without notifying as a new decision. */
  restore(state: TradingState, reason: string): void {
    this.current = state;
    this.lastReason = reason;
  }

  private change(to: TradingState, reason: string, by: 'rule' | 'operator', at: number): void {
    const change: KillSwitchChange = { from: this.current, to, reason, by, at };
    this.beforeChange?.(change);
    this.current = to;
    this.lastReason = reason;
    for (const l of this.listeners) l(change);
  }
}
