import { createHmac, timingSafeEqual } from 'node:crypto';
import { invalidOption, MonitoringError } from './errors.js';
import { describeError } from './internal/describe-error.js';
import { checkKnownKeys } from './internal/known-keys.js';
import { notificationPayload } from './internal/notification-format.js';
import type { DeliveryOptions, Notification, Notifier } from './types.js';

/** Header carrying `sha256=<hex HMAC of "<timestamp>.<body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-cryptoscalp-signature';
/** Header carrying the signing time (ms since the epoch). */
export const WEBHOOK_TIMESTAMP_HEADER = 'x-cryptoscalp-timestamp';

/** Options of {@link WebhookNotifier}. */
export interface WebhookNotifierOptions {
  /** Name used by routes. @default 'webhook' */
  name?: string;
  /** http(s) URL to POST to. Credentials in it (`user:pass@`) are sent as Basic authorization and never logged. */
  url: string;
  /** HMAC-SHA256 key. Without it, requests are unsigned. */
  secret?: string;
  /** Extra headers (e.g. an authorization header; never logged). @default {} */
  headers?: Record<string, string>;
  /** Queue, retries, backoff and per-attempt timeout. */
  delivery?: DeliveryOptions;
}

/** The signature header value for `body` signed at `timestamp` with `secret`. */
export function signWebhook(body: string, timestamp: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Verifies a webhook request on the receiving side: the signature must match and the timestamp must be
 * within `toleranceMs` of now (replay protection). Constant-time comparison.
 */
export function verifyWebhookSignature(
  body: string,
  headers: Record<string, string | string[] | undefined>,
  secret: string,
  options: { toleranceMs?: number; now?: number } = {},
): boolean {
  const signature = headers[WEBHOOK_SIGNATURE_HEADER];
  const timestamp = headers[WEBHOOK_TIMESTAMP_HEADER];
  if (typeof signature !== 'string' || typeof timestamp !== 'string') return false;
  const t = Number(timestamp);
  if (!Number.isFinite(t) || Math.abs((options.now ?? Date.now()) - t) > (options.toleranceMs ?? 300_000)) return false;
  const expected = Buffer.from(signWebhook(body, timestamp, secret));
  const actual = Buffer.from(signature);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * POSTs each notification as JSON (Alertmanager-like payload), signed with HMAC-SHA256 when a
 * secret is set. 5xx, 408, 429 and network errors are retried; other 4xx are not.
 */
export class WebhookNotifier implements Notifier {
  readonly name: string;
  readonly delivery: DeliveryOptions | undefined;
  private readonly url: string;
  private readonly secret: string | undefined;
  private readonly headers: Record<string, string>;

  constructor(options: WebhookNotifierOptions) {
    if (typeof options !== 'object' || options === null) throw invalidOption('webhook', 'must be an object');
    checkKnownKeys(options, ['name', 'url', 'secret', 'headers', 'delivery'], 'webhook.');
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw invalidOption('webhook.url', 'must be an absolute http(s) URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw invalidOption('webhook.url', 'must be http or https');
    if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length < 16)) {
      throw invalidOption('webhook.secret', 'must be a string of at least 16 characters');
    }
    if (options.headers !== undefined && (typeof options.headers !== 'object' || options.headers === null)) {
      throw invalidOption('webhook.headers', 'must be an object');
    }
    this.name = options.name ?? 'webhook';
    if (typeof this.name !== 'string' || this.name === '')
      throw invalidOption('webhook.name', 'must be a non-empty string');
    this.secret = options.secret;
    this.headers = { ...options.headers };
    // fetch() refuses a URL with credentials: send them as Basic authorization instead.
    if (parsed.username !== '' || parsed.password !== '') {
      const user = decodeURIComponent(parsed.username);
      const pass = decodeURIComponent(parsed.password);
      if (!Object.keys(this.headers).some((h) => h.toLowerCase() === 'authorization'))
        this.headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      parsed.username = '';
      parsed.password = '';
    }
    this.url = parsed.toString();
    this.delivery = options.delivery;
  }

  async send(notification: Notification, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(notificationPayload(notification));
    const timestamp = String(Date.now());
    const headers: Record<string, string> = {
      ...this.headers,
      'content-type': 'application/json',
      [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
    };
    if (this.secret !== undefined) headers[WEBHOOK_SIGNATURE_HEADER] = signWebhook(body, timestamp, this.secret);
    let response: Response;
    try {
      response = await fetch(this.url, { method: 'POST', headers, body, signal, redirect: 'error' });
    } catch (cause) {
      // The URL may carry credentials: name the host only. The reason (e.g. `connect ECONNREFUSED`) is
      // in fetch's cause, not in its message (`fetch failed`).
      throw new MonitoringError(
        'E_MONITORING_NOTIFY_FAILED',
        `POST to ${new URL(this.url).host} failed: ${describeError(cause)}`,
        { notifier: this.name, cause },
      );
    }
    await response.body?.cancel().catch(() => {});
    if (!response.ok) {
      const error = new MonitoringError('E_MONITORING_NOTIFY_FAILED', `webhook answered HTTP ${response.status}`, {
        notifier: this.name,
      });
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      throw Object.assign(error, { retryable, status: response.status });
    }
  }
}
