import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, Monitoring, type Notification, type Notifier } from '../../src/index.js';
import { sample } from '../helpers.js';

const S = 1000;
const open: Monitoring[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close({ drainTimeoutMs: 10 })));
});

function setup(notifier: Notifier) {
  const clock = new ManualClock(0);
  const m = new Monitoring({
    defaultMetrics: false,
    systemMetrics: false,
    tracing: false,
    alerting: {
      clock,
      evaluationInterval: '10s',
      rules: [{ name: 'Always', condition: { type: 'custom', read: () => 1, op: '>', value: 0 } }],
      notifiers: [notifier],
      routes: [{ notifiers: [notifier.name], groupWait: 0, groupInterval: '1m', repeatInterval: '1m' }],
    },
  });
  open.push(m);
  return { m, clock };
}

describe('notifier delivery queue', () => {
  it('retries with backoff, then succeeds', async () => {
    const attempts: number[] = [];
    let calls = 0;
    const { m, clock } = setup({
      name: 'flaky',
      delivery: { maxAttempts: 5, backoffMs: 1000 },
      send: async () => {
        attempts.push(clock.now());
        if (++calls < 3) throw new Error('503 from https://user:hunter2@hooks.example/x');
      },
    });
    await clock.advance(10 * S); // fires, notifies, first attempt fails
    expect(attempts).toHaveLength(1);
    await clock.advance(10 * S);
    expect(attempts).toHaveLength(3);
    // Backoff grows: second gap at least as long as half of the doubled delay.
    expect((attempts[1] as number) - (attempts[0] as number)).toBeGreaterThanOrEqual(500);
    expect((attempts[2] as number) - (attempts[1] as number)).toBeGreaterThanOrEqual(1000);
    const text = await m.metrics();
    expect(
      sample(text, 'cryptoscalp_alert_notifications_total', { notifier: 'flaky', outcome: 'failed_attempt' }),
    ).toBe(2);
    expect(sample(text, 'cryptoscalp_alert_notifications_total', { notifier: 'flaky', outcome: 'sent' })).toBe(1);
    expect((await m.healthCheck()).status).toBe('pass');
  });

  it('gives up after maxAttempts, reports it (history, metric, health) without secrets', async () => {
    const { m, clock } = setup({
      name: 'down',
      delivery: { maxAttempts: 3, backoffMs: 100 },
      send: async () => {
        throw new Error('ECONNREFUSED https://user:hunter2@hooks.example/x Bearer abc.def');
      },
    });
    await clock.advance(10 * S);
    await clock.advance(5 * S);
    const failed = m.alerts.history().filter((e) => e.type === 'notification_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.notifier).toBe('down');
    expect(failed[0]?.message).toContain('gave up after 3 attempt(s)');
    expect(failed[0]?.message).not.toContain('hunter2');
    expect(failed[0]?.message).not.toContain('abc.def');
    const text = await m.metrics();
    expect(sample(text, 'cryptoscalp_alert_notifications_total', { notifier: 'down', outcome: 'failed_attempt' })).toBe(
      3,
    );
    expect(sample(text, 'cryptoscalp_alert_notifications_total', { notifier: 'down', outcome: 'gave_up' })).toBe(1);
    const health = await m.healthCheck();
    expect(health.status).toBe('warn');
    expect(health.output).toContain('down');
  });

  it('does not retry an error marked retryable: false', async () => {
    let calls = 0;
    const { m, clock } = setup({
      name: 'final',
      send: async () => {
        calls++;
        throw Object.assign(new Error('HTTP 400'), { retryable: false });
      },
    });
    await clock.advance(10 * S);
    await clock.advance(60 * S);
    expect(calls).toBe(2); // the first notification and one repeat, one attempt each
    expect(m.alerts.history().filter((e) => e.type === 'notification_failed')).toHaveLength(2);
  });

  it('times out a hanging attempt and drops the oldest when the queue is full', async () => {
    const seen: Notification[] = [];
    const { m, clock } = setup({
      name: 'slow',
      delivery: { queueSize: 1, maxAttempts: 1, timeoutMs: 5000 },
      send: (n, signal) =>
        new Promise<void>((_, reject) => {
          seen.push(n);
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    });
    await clock.advance(10 * S); // first notification: in flight, hangs
    expect(seen).toHaveLength(1);
    await clock.advance(4 * S);
    await clock.advance(1 * S); // timeout at 5 s -> given up
    const text = await m.metrics();
    expect(sample(text, 'cryptoscalp_alert_notifications_total', { notifier: 'slow', outcome: 'gave_up' })).toBe(1);
    expect(m.alerts.history().find((e) => e.type === 'notification_failed')?.message).toContain('timed out');
  });
});
