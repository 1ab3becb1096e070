import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@cryptoscalp/testkit';
import { type ParsedMail, simpleParser } from 'mailparser';
import { Gauge } from 'prom-client';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EmailNotifier,
  Monitoring,
  type Notifier,
  SlackNotifier,
  verifyWebhookSignature,
  WEBHOOK_SIGNATURE_HEADER,
  WebhookNotifier,
} from '../../src/index.js';
import { sample } from '../helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Monitoring whose single rule fires at once and notifies `notifier` without waiting. */
function firingMonitoring(notifier: Notifier): { m: Monitoring; gauge: Gauge } {
  const m = new Monitoring({
    defaultMetrics: false,
    systemMetrics: false,
    tracing: false,
    alerting: {
      evaluationInterval: 50,
      rules: [
        {
          name: 'HighLatency',
          condition: { type: 'threshold', metric: 'order_latency_seconds', op: '>', value: 0.5 },
          severity: 'critical',
          annotations: { summary: 'order latency {{value}}s on {{labels.venue}}' },
        },
      ],
      notifiers: [notifier],
      routes: [{ notifiers: [notifier.name], groupWait: 0, groupInterval: 100, repeatInterval: '1h' }],
    },
  });
  cleanups.push(() => m.close({ drainTimeoutMs: 1000 }));
  const gauge = new Gauge({ name: 'order_latency_seconds', help: 'x', labelNames: ['venue'], registers: [m.registry] });
  return { m, gauge };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return (server.address() as AddressInfo).port;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

describe('EmailNotifier against a real SMTP server', () => {
  it('delivers a parsed email with subject, text and html; authenticates; never leaks the password', async () => {
    const mails: ParsedMail[] = [];
    const smtp = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === 'alerts' && auth.password === 'smtp-pa55word') cb(null, { user: 'alerts' });
        else cb(new Error('Invalid username or password'));
      },
      onData(stream, _session, cb) {
        simpleParser(stream)
          .then((mail) => {
            mails.push(mail);
            cb();
          })
          .catch(cb);
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((r) => smtp.close(() => r(undefined))));
    const port = (smtp.server.address() as AddressInfo).port;

    const email = new EmailNotifier({
      transport: {
        host: '127.0.0.1',
        port,
        secure: false,
        ignoreTLS: true,
        auth: { user: 'alerts', pass: 'smtp-pa55word' },
      },
      from: 'alerts@cryptoscalp.test',
      to: ['oncall@cryptoscalp.test', 'lead@cryptoscalp.test'],
    });
    const { m, gauge } = firingMonitoring(email);
    gauge.set({ venue: 'binance' }, 0.9);
    await waitFor(() => mails.length >= 1, { timeoutMs: 15_000, what: 'the email' });
    const mail = mails[0] as ParsedMail;
    expect(mail.subject).toBe('[cryptoscalp] [FIRING:1] HighLatency (critical)');
    expect(mail.from?.text).toBe('alerts@cryptoscalp.test');
    expect((Array.isArray(mail.to) ? mail.to[0] : mail.to)?.text).toContain('oncall@cryptoscalp.test');
    expect(mail.text).toContain('order latency 0.9s on binance');
    expect(mail.html).toContain('<h2>[FIRING:1] HighLatency (critical)</h2>');
    expect(mail.headers.get('x-cryptoscalp-notification')).toBeTruthy();
    expect(JSON.stringify(mail)).not.toContain('smtp-pa55word');

    // Recovery mail.
    gauge.set({ venue: 'binance' }, 0.1);
    await waitFor(() => mails.length >= 2, { timeoutMs: 15_000, what: 'the resolved email' });
    expect(mails[1]?.subject).toBe('[cryptoscalp] [RESOLVED] HighLatency (critical)');
    await waitFor(() => m.alerts.history().filter((e) => e.type === 'notified').length >= 2);
  });

  it('gives up on an SMTP authentication rejection without retrying and without leaking the password', async () => {
    let authAttempts = 0;
    const smtp = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth(_auth, _session, cb) {
        authAttempts++;
        cb(new Error('Invalid username or password'));
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((r) => smtp.close(() => r(undefined))));
    const port = (smtp.server.address() as AddressInfo).port;
    const email = new EmailNotifier({
      transport: {
        host: '127.0.0.1',
        port,
        secure: false,
        ignoreTLS: true,
        auth: { user: 'alerts', pass: 'wrong-pa55word' },
      },
      from: 'alerts@cryptoscalp.test',
      to: 'oncall@cryptoscalp.test',
      delivery: { maxAttempts: 4, backoffMs: 10 },
    });
    const { m, gauge } = firingMonitoring(email);
    gauge.set({ venue: 'kraken' }, 2);
    await waitFor(() => m.alerts.history().some((e) => e.type === 'notification_failed'), { timeoutMs: 15_000 });
    expect(authAttempts).toBe(1);
    const failed = m.alerts.history().find((e) => e.type === 'notification_failed');
    expect(failed?.message).toContain('EAUTH');
    expect(JSON.stringify(m.alerts.history())).not.toContain('wrong-pa55word');
  });
});

describe('SlackNotifier against a local stand-in for the Slack Web API', () => {
  it('posts chat.postMessage with the bot token, retries a 5xx, gives up on a platform error', async () => {
    const requests: { url: string; auth: string | undefined; body: URLSearchParams }[] = [];
    let failNext = 1;
    let platformError = false;
    const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
      const body = new URLSearchParams(await readBody(req));
      requests.push({ url: req.url ?? '', auth: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      if (failNext > 0) {
        failNext--;
        res.statusCode = 503;
        res.end('{"ok":false,"error":"service_unavailable"}');
        return;
      }
      if (platformError) {
        res.end(JSON.stringify({ ok: false, error: 'channel_not_found' }));
        return;
      }
      res.end(JSON.stringify({ ok: true, channel: body.get('channel'), ts: '1700000000.000100' }));
    });
    const port = await listen(server);
    const slack = new SlackNotifier({
      token: 'xoxb-test-token-123',
      channel: '#alerts',
      slackApiUrl: `http://127.0.0.1:${port}/api/`,
      delivery: { backoffMs: 20, maxAttempts: 3 },
    });
    const { m, gauge } = firingMonitoring(slack);
    gauge.set({ venue: 'coinbase' }, 1.5);
    await waitFor(() => m.alerts.history().some((e) => e.type === 'notified'), { timeoutMs: 15_000 });
    expect(requests).toHaveLength(2); // 503, then success
    const ok = requests[1] as (typeof requests)[number];
    expect(ok.url).toBe('/api/chat.postMessage');
    expect(ok.auth).toBe('Bearer xoxb-test-token-123');
    expect(ok.body.get('channel')).toBe('#alerts');
    expect(ok.body.get('text')).toContain('[FIRING:1] HighLatency (critical)');
    expect(ok.body.get('text')).toContain('order latency 1.5s on coinbase');
    const blocks = JSON.parse(ok.body.get('blocks') ?? '[]') as { type: string }[];
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(ok.body.toString()).not.toContain('xoxb-test-token-123');

    platformError = true;
    gauge.set({ venue: 'coinbase' }, 0);
    await waitFor(() => m.alerts.history().some((e) => e.type === 'notification_failed'), { timeoutMs: 15_000 });
    expect(requests).toHaveLength(3); // channel_not_found is final: one attempt
    const text = await m.metrics();
    expect(sample(text, 'cryptoscalp_alert_notifications_total', { notifier: 'slack', outcome: 'gave_up' })).toBe(1);
    expect(JSON.stringify(m.alerts.history())).not.toContain('xoxb-test-token-123');
  });
});

describe('WebhookNotifier against a local receiver that verifies the HMAC', () => {
  it('signs the JSON body, is verified by the receiver, retries a 5xx and fails a tampered secret', async () => {
    const secret = 'whsec-0123456789abcdef';
    const received: { verified: boolean; payload: Record<string, unknown> }[] = [];
    let status = 503;
    const server = createServer(async (req, res) => {
      const body = await readBody(req);
      const verified = verifyWebhookSignature(body, req.headers, secret);
      received.push({ verified, payload: JSON.parse(body) });
      res.statusCode = verified ? status : 401;
      status = 204;
      res.end();
    });
    const port = await listen(server);
    const hook = new WebhookNotifier({
      url: `http://127.0.0.1:${port}/hooks/alerts`,
      secret,
      delivery: { backoffMs: 20, timeoutMs: 2000 },
    });
    const { m, gauge } = firingMonitoring(hook);
    gauge.set({ venue: 'binance' }, 3);
    await waitFor(() => m.alerts.history().some((e) => e.type === 'notified'), { timeoutMs: 15_000 });
    expect(received).toHaveLength(2);
    expect(received.every((r) => r.verified)).toBe(true);
    const payload = received[1]?.payload as {
      status: string;
      alerts: { labels: Record<string, string>; status: string }[];
      commonLabels: Record<string, string>;
    };
    expect(payload.status).toBe('firing');
    expect(payload.alerts[0]?.labels).toMatchObject({
      alertname: 'HighLatency',
      venue: 'binance',
      severity: 'critical',
    });
    expect(payload.commonLabels.alertname).toBe('HighLatency');
    expect(JSON.stringify(received)).not.toContain(secret);
  });

  it('a receiver with another secret rejects (401: not retried); verification rejects replays and tampering', async () => {
    let hits = 0;
    const server = createServer(async (req, res) => {
      hits++;
      const body = await readBody(req);
      res.statusCode = verifyWebhookSignature(body, req.headers, 'the-receivers-own-secret') ? 204 : 401;
      res.end();
    });
    const port = await listen(server);
    const hook = new WebhookNotifier({
      url: `http://127.0.0.1:${port}/`,
      secret: 'a-different-secret-value',
      delivery: { backoffMs: 10 },
    });
    const { m, gauge } = firingMonitoring(hook);
    gauge.set({ venue: 'x' }, 3);
    await waitFor(() => m.alerts.history().some((e) => e.type === 'notification_failed'), { timeoutMs: 15_000 });
    expect(hits).toBe(1);
    expect(m.alerts.history().find((e) => e.type === 'notification_failed')?.message).toContain('HTTP 401');

    const body = '{"a":1}';
    const now = Date.now();
    const headers = { 'x-cryptoscalp-timestamp': String(now) } as Record<string, string>;
    const { signWebhook } = await import('../../src/index.js');
    headers[WEBHOOK_SIGNATURE_HEADER] = signWebhook(body, String(now), 'k'.repeat(16));
    expect(verifyWebhookSignature(body, headers, 'k'.repeat(16))).toBe(true);
    expect(verifyWebhookSignature('{"a":2}', headers, 'k'.repeat(16))).toBe(false);
    expect(verifyWebhookSignature(body, headers, 'k'.repeat(16), { now: now + 10 * 60_000 })).toBe(false);
    expect(verifyWebhookSignature(body, {}, 'k'.repeat(16))).toBe(false);
  });

  it('times out a receiver that never answers and reports the failure without blocking', async () => {
    const server = createServer(() => {
      // never responds
    });
    const port = await listen(server);
    cleanups.push(() => server.closeAllConnections());
    const hook = new WebhookNotifier({
      url: `http://127.0.0.1:${port}/`,
      delivery: { timeoutMs: 200, maxAttempts: 2, backoffMs: 10 },
    });
    const { m, gauge } = firingMonitoring(hook);
    gauge.set({ venue: 'x' }, 3);
    const t0 = Date.now();
    await waitFor(() => m.alerts.history().some((e) => e.type === 'notification_failed'), { timeoutMs: 15_000 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(m.alerts.history().find((e) => e.type === 'notification_failed')?.message).toMatch(
      /timed out|Abort|Timeout/,
    );
  });
});
