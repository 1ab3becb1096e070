import type { LogLevel } from '@slack/web-api';
import { invalidOption, MonitoringError } from './errors.js';
import { checkKnownKeys } from './internal/known-keys.js';
import { alertLine, notificationTitle } from './internal/notification-format.js';
import { importOptionalPeer } from './internal/optional-peer.js';
import type { DeliveryOptions, Notification, Notifier } from './types.js';

/**
 * The part of `@slack/web-api`'s `WebClient` the notifier uses; a `WebClient` fits it. Declared
 * here so the published types do not need the optional peer.
 */
export interface SlackClientLike {
  chat: {
    postMessage(args: {
      channel: string;
      text: string;
      blocks: { type: string; [key: string]: unknown }[];
    }): Promise<unknown>;
  };
}

/** Options of {@link SlackNotifier}. */
export interface SlackNotifierOptions {
  /** Name used by routes. @default 'slack' */
  name?: string;
  /** Bot token (`xoxb-...`). Never logged. Give this or `client`. */
  token?: string;
  /** An existing `WebClient` (then `token` and `slackApiUrl` are not used). */
  client?: SlackClientLike;
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
  // LogLevel.ERROR's value: the enum is not imported at run time, so the package stays optional.
  getLevel: () => 'error' as LogLevel,
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
 * retried by the queue, and the client logs nothing. Without `client`, `@slack/web-api` (an optional
 * peer dependency) is loaded when the notifier is created; if it is not installed, sends fail with
 * `E_MONITORING_MISSING_PEER` and are not retried.
 */
export class SlackNotifier implements Notifier {
  readonly name: string;
  readonly delivery: DeliveryOptions | undefined;
  private readonly client: Promise<SlackClientLike>;
  private readonly channel: string;

  constructor(options: SlackNotifierOptions) {
    if (typeof options !== 'object' || options === null) throw invalidOption('slack', 'must be an object');
    checkKnownKeys(options, ['name', 'token', 'client', 'channel', 'slackApiUrl', 'delivery'], 'slack.');
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
    if (options.client !== undefined) {
      this.client = Promise.resolve(options.client);
    } else {
      const { token, slackApiUrl } = options;
      this.client = importOptionalPeer('@slack/web-api', 'SlackNotifier', () => import('@slack/web-api')).then(
        (mod) =>
          new mod.WebClient(token, {
            ...(slackApiUrl === undefined
              ? {}
              : { slackApiUrl: slackApiUrl.endsWith('/') ? slackApiUrl : `${slackApiUrl}/` }),
            retryConfig: { retries: 0 },
            rejectRateLimitedCalls: true,
            logger: SILENT_LOGGER,
          }),
      );
      // A missing package is reported by each send(); this keeps it from being an unhandled rejection meanwhile.
      this.client.catch(() => {});
    }
  }

  async send(notification: Notification): Promise<void> {
    const title = notificationTitle(notification);
    const body = notification.alerts.map(alertLine).join('\n');
    const client = await this.client;
    try {
      await client.chat.postMessage({
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
