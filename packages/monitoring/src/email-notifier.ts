import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { invalidOption, MonitoringError } from './errors.js';
import { checkKnownKeys } from './internal/known-keys.js';
import { notificationHtml, notificationText, notificationTitle } from './internal/notification-format.js';
import { importOptionalPeer } from './internal/optional-peer.js';
import type { DeliveryOptions, Notification, Notifier } from './types.js';

/** SMTP settings passed to `nodemailer.createTransport` (a subset of nodemailer's SMTP options). */
export interface SmtpTransportOptions {
  /** SMTP server host. */
  host: string;
  /** @default 587, or 465 when `secure` */
  port?: number;
  /** TLS from the start (port 465). @default false */
  secure?: boolean;
  /** Fail unless STARTTLS succeeds. @default false */
  requireTLS?: boolean;
  /** Never use STARTTLS. @default false */
  ignoreTLS?: boolean;
  /** Credentials (never logged). */
  auth?: { user: string; pass: string };
  /** Node TLS options, e.g. `{ rejectUnauthorized: true }`. */
  tls?: Record<string, unknown>;
  /** @default 10000 */
  connectionTimeout?: number;
  /** @default 10000 */
  greetingTimeout?: number;
  /** @default 15000 */
  socketTimeout?: number;
  /** Hostname used in the SMTP greeting. @default os.hostname() */
  name?: string;
  /** Reuse connections. @default false */
  pool?: boolean;
}

/** Anything that sends mail like a nodemailer transporter (e.g. `nodemailer.createTransport(...)`). */
export interface MailTransporter {
  sendMail(message: Record<string, unknown>): Promise<unknown>;
  close?(): void;
}

/** Options of {@link EmailNotifier}. */
export interface EmailNotifierOptions {
  /** Name used by routes. @default 'email' */
  name?: string;
  /** SMTP settings for `nodemailer.createTransport`, or an existing transporter. */
  transport: SmtpTransportOptions | MailTransporter;
  /** Sender address. */
  from: string;
  /** Recipients. */
  to: string | string[];
  /** Text before the subject. @default '[cryptoscalp]' */
  subjectPrefix?: string;
  /** Queue, retries, backoff and per-attempt timeout. */
  delivery?: DeliveryOptions;
}

function isTransporter(t: unknown): t is MailTransporter {
  return typeof t === 'object' && t !== null && typeof (t as MailTransporter).sendMail === 'function';
}

/**
 * Sends each notification as one email (text and HTML) through nodemailer. SMTP credentials live in
 * the transport and never appear in messages or errors. Permanent SMTP rejections (5xx) are not retried.
 * With SMTP settings, `nodemailer` (an optional peer dependency) is loaded when the notifier is
 * created; if it is not installed, sends fail with `E_MONITORING_MISSING_PEER` and are not retried.
 */
export class EmailNotifier implements Notifier {
  readonly name: string;
  readonly delivery: DeliveryOptions | undefined;
  private readonly transporter: Promise<MailTransporter>;
  private readonly ownTransport: boolean;
  private readonly from: string;
  private readonly to: string[];
  private readonly subjectPrefix: string;

  constructor(options: EmailNotifierOptions) {
    if (typeof options !== 'object' || options === null) throw invalidOption('email', 'must be an object');
    checkKnownKeys(options, ['name', 'transport', 'from', 'to', 'subjectPrefix', 'delivery'], 'email.');
    if (typeof options.transport !== 'object' || options.transport === null)
      throw invalidOption('email.transport', 'must be SMTP options or a transporter');
    if (typeof options.from !== 'string' || !options.from.includes('@'))
      throw invalidOption('email.from', 'must be an email address');
    const to = Array.isArray(options.to) ? options.to : [options.to];
    if (to.length === 0 || to.some((a) => typeof a !== 'string' || !a.includes('@')))
      throw invalidOption('email.to', 'must be one or more email addresses');
    this.name = options.name ?? 'email';
    this.from = options.from;
    this.to = [...to];
    this.subjectPrefix = options.subjectPrefix ?? '[cryptoscalp]';
    this.delivery = options.delivery;
    if (isTransporter(options.transport)) {
      this.transporter = Promise.resolve(options.transport);
      this.ownTransport = false;
    } else {
      if (typeof options.transport.host !== 'string' || options.transport.host === '') {
        throw invalidOption('email.transport.host', 'must be a host name');
      }
      const smtp: SMTPTransport.Options = {
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 15_000,
        ...(options.transport as SMTPTransport.Options),
      };
      this.transporter = importOptionalPeer('nodemailer', 'EmailNotifier', () => import('nodemailer')).then(
        (mod) => mod.default.createTransport(smtp) as unknown as MailTransporter,
      );
      // A missing package is reported by each send(); this keeps it from being an unhandled rejection meanwhile.
      this.transporter.catch(() => {});
      this.ownTransport = true;
    }
  }

  async send(notification: Notification): Promise<void> {
    const transporter = await this.transporter;
    try {
      await transporter.sendMail({
        from: this.from,
        to: this.to,
        subject: `${this.subjectPrefix} ${notificationTitle(notification)}`.trim(),
        text: notificationText(notification),
        html: notificationHtml(notification),
        headers: { 'X-Cryptoscalp-Notification': notification.id },
      });
    } catch (cause) {
      const responseCode = (cause as { responseCode?: number }).responseCode;
      const code = (cause as { code?: string }).code;
      const error = new MonitoringError(
        'E_MONITORING_NOTIFY_FAILED',
        `SMTP delivery failed: ${code ?? 'error'}${responseCode ? ` ${responseCode}` : ''}`,
        {
          notifier: this.name,
          cause,
        },
      );
      throw Object.assign(error, { retryable: !(typeof responseCode === 'number' && responseCode >= 500) });
    }
  }

  close(): void {
    if (this.ownTransport) this.transporter.then((t) => t.close?.()).catch(() => {});
  }
}
