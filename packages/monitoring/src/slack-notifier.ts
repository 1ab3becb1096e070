import { LogLevel, WebClient } from '@slack/web-api';
import { invalidOption, MonitoringError } from './errors.js';
import { alertLine, notificationTitle } from './internal/notification-format.js';
import type { DeliveryOptions, Notification, Notifier } from './types.js';

/** Options of {@link SlackNotifier}. */
export interface SlackNotifierOptions {
  /** Name used by routes. @default 'slack' */
  name?: string;
  /** Bot token (`xoxb-...`). Never logged. Give this or `client`. */
  token?: string;
  /** An existing `WebClient` (then `token` and `slackApiUrl` are not used). */
  client?: WebClient;
  /** Channel id or name to post to. */
  channel: string;
  /** Web API base URL (ends with `/`). @default 'https://slack.com/api/' */
  slackApiUrl?: string;
  /** Queue, retries, backoff and per-attempt timeout. */
  delivery?: DeliveryOptions;
}

const SILENT_LOGGER = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
  getLevel: () => LogLevel.ERROR,
  setName() {},
};

/** Platform errors worth retrying; others (channel_not_found, invalid_auth, ...) are final. */
const RETRYABLE_PLATFORM = new Set([
  'internal_error',
  'service_unavailable',
  'fatal_error',
  'request_timeout',
  'ratelimited',
]);

/**
 * Posts notifications to Slack with `chat.postMessage` through `@slack/web-api`. The WebClient's own
 * retries are off (the delivery queue retries with backoff), rate-limited calls are rejected and
 * retried by the queue, and the client logs nothing.
 */
export class SlackNotifier implements Notifier {
  readonly name: string;
  readonly delivery: DeliveryOptions | undefined;
  private readonly client: WebClient;
  private readonly channel: string;

  constructor(options: SlackNotifierOptions) {
    if (typeof options !== 'object' || options === null) throw invalidOption('slack', 'must be an object');
    if (typeof options.channel !== 'string' || options.channel === '')
      throw invalidOption('slack.channel', 'must be a non-empty string');
    if (options.client === undefined && (typeof options.token !== 'string' || options.token === '')) {
      throw invalidOption('slack.token', 'give a token or a client');
    }
    if (options.slackApiUrl !== undefined) {
      let url: URL;
      try {
        url = new URL(options.slackApiUrl);
      } catch {
        throw invalidOption('slack.slackApiUrl', 'must be an absolute http(s) URL');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw invalidOption('slack.slackApiUrl', 'must be http or https');
    }
    this.name = options.name ?? 'slack';
    this.channel = options.channel;
    this.delivery = options.delivery;
    this.client =
      options.client ??
      new WebClient(options.token, {
        ...(options.slackApiUrl === undefined
          ? {}
          : { slackApiUrl: options.slackApiUrl.endsWith('/') ? options.slackApiUrl : `${options.slackApiUrl}/` }),
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        logger: SILENT_LOGGER,
      });
  }

  async send(notification: Notification): Promise<void> {
    const title = notificationTitle(notification);
    const body = notification.alerts.map(alertLine).join('\n');
    try {
      await this.client.chat.postMessage({
        channel: this.channel,
        text: `${title}\n${body}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } },
          { type: 'section', text: { type: 'mrkdwn', text: body.slice(0, 2900) || '(no alerts)' } },
          {
            type: 'context',
            elements: [
              {
                type: 'mrkdwn',
                text: `source: ${notification.source} · group: ${notification.groupKey}`.slice(0, 300),
              },
            ],
          },
        ],
      });
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      const platform = (cause as { data?: { error?: string } }).data?.error;
      const retryable = code !== 'slack_webapi_platform_error' || RETRYABLE_PLATFORM.has(platform ?? '');
      const error = new MonitoringError(
        'E_MONITORING_NOTIFY_FAILED',
        `slack chat.postMessage failed: ${platform ?? code ?? 'error'}`,
        { notifier: this.name, cause },
      );
      throw Object.assign(error, { retryable });
    }
  }
}
