import { MonitoringError } from './errors.js';
import type { ResolvedDelivery } from './internal/alerting-options.js';
import { describeError } from './internal/describe-error.js';
import type { Clock, Notification, Notifier } from './types.js';

/** What a {@link DeliveryQueue} reports. */
export interface DeliveryHooks {
  sent(notifier: string, notification: Notification, attempts: number): void;
  failedAttempt(notifier: string, notification: Notification, attempt: number, error: MonitoringError): void;
  gaveUp(notifier: string, notification: Notification, error: MonitoringError): void;
  dropped(notifier: string, notification: Notification, reason: 'queue_full' | 'closed'): void;
}

/** Removes anything that looks like a secret from an error message before it is logged or stored. */
export function scrubMessage(message: string, secrets: readonly string[] = [], maxLength = 500): string {
  let out = message;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[REDACTED]');
  return out
    .replace(/(xox[abposr]-)[A-Za-z0-9-]+/g, '$1[REDACTED]')
    .replace(/(\/\/[^:/\s]+:)[^@/\s]+@/g, '$1[REDACTED]@')
    .replace(/(bearer\s+)[A-Za-z0-9._~+/-]+=*/gi, '$1[REDACTED]')
    .slice(0, maxLength);
}

/**
 * Delivers a notifier's notifications one at a time from a bounded queue, with retries, exponential
 * backoff and a timeout per attempt. `enqueue()` never blocks and never throws; failures are reported
 * through the hooks (and so counted), and a notification is given up after `maxAttempts`.
 */
export class DeliveryQueue {
  private readonly queue: Notification[] = [];
  private running = false;
  private closed = false;
  private readonly abort = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly notifier: Notifier,
    private readonly settings: ResolvedDelivery,
    private readonly clock: Clock,
    private readonly hooks: DeliveryHooks,
  ) {}

  /** Notifications waiting (not counting the one being delivered). */
  get length(): number {
    return this.queue.length;
  }

  /** True while nothing is queued or in flight. */
  get idle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  /** Queues a notification; drops the oldest when full. */
  enqueue(notification: Notification): void {
    if (this.closed) {
      this.hooks.dropped(this.notifier.name, notification, 'closed');
      return;
    }
    if (this.queue.length >= this.settings.queueSize) {
      const dropped = this.queue.shift() as Notification;
      this.hooks.dropped(this.notifier.name, dropped, 'queue_full');
    }
    this.queue.push(notification);
    if (!this.running) void this.pump();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const handle = this.clock.setTimeout(() => {
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.clock.clearTimeout(handle);
        resolve();
      };
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async attempt(notification: Notification): Promise<void> {
    const controller = new AbortController();
    const onClose = () => controller.abort(this.abort.signal.reason);
    this.abort.signal.addEventListener('abort', onClose, { once: true });
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => {
        const e = new MonitoringError('E_MONITORING_NOTIFY_FAILED', `timed out after ${this.settings.timeoutMs} ms`, {
          notifier: this.notifier.name,
        });
        controller.abort(e);
        reject(e);
      }, this.settings.timeoutMs);
    });
    try {
      await Promise.race([this.notifier.send(notification, controller.signal), timeout]);
    } finally {
      this.clock.clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onClose);
      timeout.catch(() => {});
    }
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const n = this.queue.shift() as Notification;
        for (let attempt = 1; ; attempt++) {
          try {
            await this.attempt(n);
            this.hooks.sent(this.notifier.name, n, attempt);
            break;
          } catch (cause) {
            const retryable = (cause as { retryable?: unknown })?.retryable !== false;
            const message = scrubMessage(describeError(cause));
            const error = new MonitoringError(
              'E_MONITORING_NOTIFY_FAILED',
              `notifier ${this.notifier.name}: ${message}`,
              {
                notifier: this.notifier.name,
                attempts: attempt,
                cause,
              },
            );
            this.hooks.failedAttempt(this.notifier.name, n, attempt, error);
            if (!retryable || attempt >= this.settings.maxAttempts || this.closed) {
              this.hooks.gaveUp(
                this.notifier.name,
                n,
                new MonitoringError(
                  'E_MONITORING_NOTIFY_GAVE_UP',
                  `notifier ${this.notifier.name} gave up after ${attempt} attempt(s): ${message}`,
                  { notifier: this.notifier.name, attempts: attempt, cause },
                ),
              );
              break;
            }
            const backoff = Math.min(this.settings.maxBackoffMs, this.settings.backoffMs * 2 ** (attempt - 1));
            // Full jitter on the upper half keeps many processes from retrying in step.
            await this.sleep(backoff / 2 + Math.random() * (backoff / 2));
          }
        }
      }
    } finally {
      this.running = false;
      if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * Resolves when the queue is empty and nothing is in flight, or after `timeoutMs` (real time).
   * The timer is deliberately ref'd: the retry timers are not, so without it a process whose last
   * work is `await monitoring.close()` would exit with that promise unsettled (ESM exit code 13).
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.idle) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Stops: aborts the attempt in flight and drops what is queued (each counted). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(
      new MonitoringError('E_MONITORING_CLOSED', 'delivery queue closed', { notifier: this.notifier.name }),
    );
    for (const n of this.queue.splice(0)) this.hooks.dropped(this.notifier.name, n, 'closed');
  }
}
