import { Counter, Gauge, Histogram } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type AlertingOptions, ManualClock, Monitoring, type Notification, type Notifier } from '../../src/index.js';
import { sample } from '../helpers.js';

const S = 1000;
const M = 60 * S;
const open: Monitoring[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close({ drainTimeoutMs: 10 })));
});

function recorder(name: string): Notifier & { sent: Notification[] } {
  const sent: Notification[] = [];
  return { name, sent, send: async (n) => void sent.push(n) };
}

function setup(alerting: Omit<AlertingOptions, 'clock'>) {
  const clock = new ManualClock(1_700_000_000_000);
  const m = new Monitoring({
    defaultMetrics: false,
    systemMetrics: false,
    tracing: false,
    alerting: { evaluationInterval: '15s', ...alerting, clock },
  });
  open.push(m);
  const depth = new Gauge({ name: 'queue_depth', help: 'depth', labelNames: ['queue'], registers: [m.registry] });
  return { m, clock, depth };
}

const types = (m: Monitoring) =>
  m.alerts.history().map((e) => `${e.type}:${e.alertname}${e.notifier ? `@${e.notifier}` : ''}`);

describe('alert rule state machine (controllable clock)', () => {
  it('goes pending -> firing -> (group wait) notified -> repeat -> resolved, with templated annotations', async () => {
    const pager = recorder('pager');
    const { m, clock, depth } = setup({
      rules: [
        {
          name: 'HighDepth',
          condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 },
          for: '1m',
          severity: 'critical',
          labels: { team: 'trading' },
          annotations: { summary: 'depth {{value}} on {{ labels.queue }}' },
        },
      ],
      notifiers: [pager],
      routes: [{ notifiers: ['pager'], groupWait: '30s', groupInterval: '5m', repeatInterval: '1h' }],
    });
    depth.set({ queue: 'orders' }, 50);
    await clock.advance(15 * S);
    let [alert] = m.alerts.active();
    expect(alert).toMatchObject({ state: 'pending', name: 'HighDepth', severity: 'critical', value: 50 });
    expect(alert?.labels).toEqual({ queue: 'orders', team: 'trading', alertname: 'HighDepth', severity: 'critical' });
    await clock.advance(45 * S); // 60 s after the condition started: not yet (activeAt was at the first evaluation)
    expect(m.alerts.active()[0]?.state).toBe('pending');
    await clock.advance(15 * S);
    [alert] = m.alerts.active();
    expect(alert?.state).toBe('firing');
    expect(pager.sent).toHaveLength(0); // group wait
    await clock.advance(30 * S);
    expect(pager.sent).toHaveLength(1);
    const first = pager.sent[0] as Notification;
    expect(first).toMatchObject({
      status: 'firing',
      notifier: 'pager',
      escalationLevel: 0,
      groupLabels: { alertname: 'HighDepth' },
    });
    expect(first.alerts[0]?.annotations.summary).toBe('depth 50 on orders');
    expect(first.commonLabels).toMatchObject({ alertname: 'HighDepth', severity: 'critical', queue: 'orders' });
    // Group interval passes without change: no new notification; the repeat interval re-sends.
    await clock.advance(30 * M);
    expect(pager.sent).toHaveLength(1);
    await clock.advance(30 * M);
    expect(pager.sent).toHaveLength(2);
    expect(pager.sent[1]?.status).toBe('firing');
    // Recovery: resolved event, then a resolved notification at the next group flush.
    depth.set({ queue: 'orders' }, 0);
    await clock.advance(15 * S);
    expect(m.alerts.active()).toHaveLength(0);
    await clock.advance(5 * M);
    expect(pager.sent).toHaveLength(3);
    expect(pager.sent[2]).toMatchObject({ status: 'resolved' });
    expect(pager.sent[2]?.alerts[0]?.state).toBe('resolved');
    expect(types(m)).toEqual([
      'pending:HighDepth',
      'firing:HighDepth',
      'notified:HighDepth@pager',
      'notified:HighDepth@pager',
      'resolved:HighDepth',
      'notified:HighDepth@pager',
    ]);
    const text = await m.metrics();
    expect(sample(text, 'cryptoscalp_alert_notifications_total', { notifier: 'pager', outcome: 'sent' })).toBe(3);
  });

  it('drops a pending alert whose condition clears before `for` (no notification)', async () => {
    const pager = recorder('pager');
    const { m, clock, depth } = setup({
      rules: [
        { name: 'HighDepth', condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 }, for: '5m' },
      ],
      notifiers: [pager],
      routes: [{ notifiers: ['pager'], groupWait: 0 }],
    });
    depth.set({ queue: 'a' }, 11);
    await clock.advance(15 * S);
    depth.set({ queue: 'a' }, 1);
    await clock.advance(10 * M);
    expect(m.alerts.active()).toHaveLength(0);
    expect(pager.sent).toHaveLength(0);
    expect(types(m)).toEqual(['pending:HighDepth']);
  });

  it('keeps firing for keepFiringFor after the condition clears', async () => {
    const { m, clock, depth } = setup({
      rules: [
        {
          name: 'Flappy',
          condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 },
          keepFiringFor: '1m',
        },
      ],
    });
    depth.set({ queue: 'a' }, 20);
    await clock.advance(15 * S);
    expect(m.alerts.active()[0]?.state).toBe('firing');
    depth.set({ queue: 'a' }, 0);
    await clock.advance(45 * S);
    expect(m.alerts.active()[0]?.state).toBe('firing');
    await clock.advance(30 * S);
    expect(m.alerts.active()).toHaveLength(0);
  });

  it('dedups by fingerprint and groups alerts by groupBy labels', async () => {
    const byName = recorder('byName');
    const byQueue = recorder('byQueue');
    const { m, clock, depth } = setup({
      rules: [{ name: 'HighDepth', condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 } }],
      notifiers: [byName, byQueue],
      routes: [
        { notifiers: ['byName'], groupWait: '10s', continue: true },
        { notifiers: ['byQueue'], groupBy: ['queue'], groupWait: '10s' },
      ],
    });
    depth.set({ queue: 'a' }, 20);
    depth.set({ queue: 'b' }, 30);
    await clock.advance(15 * S);
    await clock.advance(15 * S); // evaluated twice: still two alerts (same fingerprints)
    expect(m.alerts.active()).toHaveLength(2);
    expect(new Set(m.alerts.active().map((a) => a.id)).size).toBe(2);
    expect(byName.sent).toHaveLength(1);
    expect(byName.sent[0]?.alerts).toHaveLength(2);
    expect(byQueue.sent).toHaveLength(2);
    expect(byQueue.sent.map((n) => n.groupLabels.queue).sort()).toEqual(['a', 'b']);
  });

  it('routes by label matchers (first match wins unless continue)', async () => {
    const pager = recorder('pager');
    const email = recorder('email');
    const { clock, depth } = setup({
      rules: [
        {
          name: 'Critical',
          condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 100 },
          severity: 'critical',
        },
        {
          name: 'Warning',
          condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 },
          severity: 'warning',
        },
      ],
      notifiers: [pager, email],
      routes: [
        { matchers: { severity: 'critical' }, notifiers: ['pager'], groupWait: 0 },
        { matchers: { alertname: /Warn.*/ }, notifiers: ['email'], groupWait: 0 },
      ],
    });
    depth.set({ queue: 'a' }, 500);
    await clock.advance(15 * S);
    expect(pager.sent.map((n) => n.alerts.map((a) => a.name))).toEqual([['Critical']]);
    expect(email.sent.map((n) => n.alerts.map((a) => a.name))).toEqual([['Warning']]);
  });

  it('silences: a silenced alert is not notified until the silence expires', async () => {
    const pager = recorder('pager');
    const { m, clock, depth } = setup({
      rules: [{ name: 'HighDepth', condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 } }],
      notifiers: [pager],
      routes: [{ notifiers: ['pager'], groupWait: '30s', groupInterval: '1m' }],
    });
    const silence = m.alerts.silence({
      matchers: { alertname: 'HighDepth', queue: /ord.*/ },
      duration: '1h',
      createdBy: 'ops',
      comment: 'maintenance',
    });
    expect(m.alerts.silences()).toHaveLength(1);
    depth.set({ queue: 'orders' }, 50);
    await clock.advance(15 * S);
    expect(m.alerts.active()[0]?.silencedBy).toEqual([silence.id]);
    await clock.advance(5 * M);
    expect(pager.sent).toHaveLength(0);
    expect(types(m)).toEqual(['firing:HighDepth', 'silenced:HighDepth']);
    m.alerts.expireSilence(silence.id);
    expect(m.alerts.silences()).toHaveLength(0);
    await clock.advance(1 * M);
    expect(pager.sent).toHaveLength(1);
    expect(m.alerts.active()[0]?.silencedBy).toEqual([]);
    expect(() => m.alerts.expireSilence('nope')).toThrow(expect.objectContaining({ code: 'E_MONITORING_NOT_FOUND' }));
    expect(() => m.alerts.silence({ matchers: {}, duration: '1h' })).toThrow(
      expect.objectContaining({ field: 'silence.matchers' }),
    );
    expect(() => m.alerts.silence({ matchers: { a: 'b' } })).toThrow(
      expect.objectContaining({ field: 'silence.endsAt' }),
    );
  });

  it('inhibition: a firing source alert mutes matching targets with equal labels', async () => {
    const pager = recorder('pager');
    const { m, clock, depth } = setup({
      rules: [
        {
          name: 'QueueStalled',
          condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 100 },
          severity: 'critical',
        },
        {
          name: 'QueueSlow',
          condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 },
          severity: 'warning',
        },
      ],
      notifiers: [pager],
      routes: [{ notifiers: ['pager'], groupWait: '10s', groupBy: ['queue'] }],
      inhibitRules: [
        { sourceMatchers: { alertname: 'QueueStalled' }, targetMatchers: { severity: 'warning' }, equal: ['queue'] },
      ],
    });
    depth.set({ queue: 'a' }, 500); // both fire for a; only the critical is sent
    depth.set({ queue: 'b' }, 50); // only the warning fires for b: not inhibited (different queue)
    await clock.advance(15 * S);
    await clock.advance(10 * S);
    const sent = pager.sent.map((n) => `${n.groupLabels.queue}:${n.alerts.map((a) => a.name).join(',')}`).sort();
    expect(sent).toEqual(['a:QueueStalled', 'b:QueueSlow']);
    const inhibited = m.alerts.active().filter((a) => a.inhibited);
    expect(inhibited.map((a) => `${a.name}/${a.labels.queue}`)).toEqual(['QueueSlow/a']);
    expect(types(m)).toContain('inhibited:QueueSlow');
  });

  it('escalates an unacknowledged alert step by step; ack stops escalation', async () => {
    const pager = recorder('pager');
    const email = recorder('email');
    const phone = recorder('phone');
    const { m, clock, depth } = setup({
      rules: [
        {
          name: 'HighDepth',
          condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 },
          severity: 'critical',
        },
      ],
      notifiers: [pager, email, phone],
      routes: [
        {
          notifiers: ['pager'],
          groupWait: 0,
          groupBy: ['queue'],
          escalation: [
            { after: '5m', notifiers: ['email'] },
            { after: '15m', notifiers: ['phone'] },
          ],
        },
      ],
    });
    depth.set({ queue: 'a' }, 50);
    depth.set({ queue: 'b' }, 50);
    await clock.advance(15 * S);
    expect(pager.sent).toHaveLength(2);
    await clock.advance(5 * M);
    expect(email.sent).toHaveLength(2);
    expect(email.sent[0]).toMatchObject({ escalationLevel: 1, status: 'firing' });
    const a = m.alerts.active().find((x) => x.labels.queue === 'a');
    const acked = m.alerts.ack(a?.id as string, { by: 'alice', comment: 'looking' });
    expect(acked.acknowledged).toMatchObject({ by: 'alice', comment: 'looking' });
    await clock.advance(10 * M);
    expect(phone.sent).toHaveLength(1);
    expect(phone.sent[0]?.alerts[0]?.labels.queue).toBe('b');
    expect(phone.sent[0]?.escalationLevel).toBe(2);
    expect(m.alerts.active().find((x) => x.labels.queue === 'b')?.escalationLevel).toBe(2);
    expect(types(m).filter((t) => t.startsWith('escalated'))).toHaveLength(3);
    expect(types(m)).toContain('acknowledged:HighDepth');
    expect(() => m.alerts.ack('unknown')).toThrow(expect.objectContaining({ code: 'E_MONITORING_NOT_FOUND' }));
  });

  it('keeps a bounded history and publishes events to listeners', async () => {
    const { m, clock, depth } = setup({
      rules: [{ name: 'Flip', condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 } }],
      historySize: 4,
    });
    const seen: string[] = [];
    const off = m.alerts.onEvent((e) => seen.push(e.type));
    for (let i = 0; i < 5; i++) {
      depth.set({ queue: 'a' }, 20);
      await clock.advance(15 * S);
      depth.set({ queue: 'a' }, 0);
      await clock.advance(15 * S);
    }
    off();
    expect(seen).toHaveLength(10);
    const history = m.alerts.history();
    expect(history).toHaveLength(4);
    expect(history.map((e) => e.seq)).toEqual([7, 8, 9, 10]);
    expect(m.alerts.history({ limit: 2 }).map((e) => e.seq)).toEqual([9, 10]);
    expect(m.alerts.history({ since: (history[3] as { time: number }).time })).toHaveLength(1);
  });
});

describe('rule conditions', () => {
  it('rate over a window of a counter', async () => {
    const { m, clock } = setup({
      rules: [
        { name: 'ErrorRate', condition: { type: 'rate', metric: 'errors_total', window: '1m', op: '>', value: 1 } },
      ],
    });
    const errors = new Counter({ name: 'errors_total', help: 'e', labelNames: ['svc'], registers: [m.registry] });
    errors.inc({ svc: 'x' }, 5);
    await clock.advance(15 * S);
    expect(m.alerts.active()).toHaveLength(0); // one sample: no rate yet
    errors.inc({ svc: 'x' }, 60); // 4/s over 15 s
    await clock.advance(15 * S);
    expect(m.alerts.active()[0]).toMatchObject({ state: 'firing', value: 4, labels: { svc: 'x' } });
    for (let i = 0; i < 5; i++) await clock.advance(15 * S); // no new errors: rate over the last minute falls to 0
    expect(m.alerts.active()).toHaveLength(0);
  });

  it('histogram quantile, windowed and all-time', async () => {
    const { m, clock } = setup({
      rules: [
        {
          name: 'SlowP99',
          condition: { type: 'quantile', metric: 'op_seconds', quantile: 0.99, window: '1m', op: '>', value: 0.5 },
        },
        {
          name: 'SlowP50Ever',
          condition: { type: 'quantile', metric: 'op_seconds', quantile: 0.5, op: '>', value: 0.5 },
        },
      ],
    });
    const h = new Histogram({
      name: 'op_seconds',
      help: 'x',
      labelNames: ['op'],
      buckets: [0.1, 0.5, 1, 2],
      registers: [m.registry],
    });
    for (let i = 0; i < 100; i++) h.observe({ op: 'get' }, 0.05);
    await clock.advance(15 * S);
    expect(m.alerts.active()).toHaveLength(0);
    for (let i = 0; i < 10; i++) h.observe({ op: 'get' }, 1.5);
    await clock.advance(15 * S);
    const names = m.alerts.active().map((a) => a.name);
    expect(names).toEqual(['SlowP99']); // p50 over all time is still fast
    expect(m.alerts.active()[0]?.value).toBeGreaterThan(1);
  });

  it('anomaly detector over a gauge, with warm-up, as an alert condition', async () => {
    const { m, clock, depth } = setup({
      rules: [
        {
          name: 'DepthAnomaly',
          condition: {
            type: 'anomaly',
            metric: 'queue_depth',
            detector: { kind: 'ewma', warmup: 5, threshold: 4, minDeviation: 5, direction: 'up' },
          },
        },
      ],
    });
    const values = [10, 11, 9, 10, 12, 10, 11, 9, 10];
    for (const v of values) {
      depth.set({ queue: 'a' }, v);
      await clock.advance(15 * S);
      expect(m.alerts.active()).toHaveLength(0);
    }
    depth.set({ queue: 'a' }, 80);
    await clock.advance(15 * S);
    expect(m.alerts.active()[0]).toMatchObject({ name: 'DepthAnomaly', state: 'firing', value: 80 });
  });

  it('anomaly detector on a counter rate (median/MAD)', async () => {
    const { m, clock } = setup({
      rules: [
        {
          name: 'Burst',
          condition: {
            type: 'anomaly',
            metric: 'fills_total',
            source: 'rate',
            detector: { kind: 'mad', window: 8, warmup: 5 },
          },
        },
      ],
    });
    const fills = new Counter({ name: 'fills_total', help: 'x', registers: [m.registry] });
    for (let i = 0; i < 8; i++) {
      fills.inc(15 + (i % 3));
      await clock.advance(15 * S);
    }
    expect(m.alerts.active()).toHaveLength(0);
    fills.inc(1500);
    await clock.advance(15 * S);
    expect(m.alerts.active().map((a) => a.name)).toEqual(['Burst']);
  });

  it('custom read() conditions, and a throwing rule is counted, not fatal', async () => {
    let v: number | undefined = 5;
    const { m, clock } = setup({
      rules: [
        { name: 'Custom', condition: { type: 'custom', read: async () => v, op: '>=', value: 5 } },
        {
          name: 'Broken',
          condition: {
            type: 'custom',
            read: () => {
              throw new Error('nope');
            },
            op: '>',
            value: 0,
          },
        },
      ],
    });
    await clock.advance(15 * S);
    expect(m.alerts.active().map((a) => a.name)).toEqual(['Custom']);
    v = undefined;
    await clock.advance(15 * S);
    expect(m.alerts.active()).toHaveLength(0);
    const text = await m.metrics();
    expect(sample(text, 'cryptoscalp_alert_rule_evaluation_failures_total', { rule: 'Broken' })).toBe(2);
    expect(sample(text, 'cryptoscalp_alert_rule_evaluation_duration_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('reads the package’s own metrics (channel-fed histograms) in rules', async () => {
    const { m, clock } = setup({
      rules: [
        {
          name: 'TradesStalled',
          condition: { type: 'threshold', metric: 'cryptoscalp_trading_trades_total', op: '>=', value: 2 },
        },
      ],
    });
    const trading = m.trading();
    trading.recordTrade({ strategy: 's', symbol: 'BTCUSDT', side: 'buy', quantity: 1, price: 10 });
    trading.recordTrade({ strategy: 's', symbol: 'BTCUSDT', side: 'buy', quantity: 1, price: 10 });
    await clock.advance(15 * S);
    expect(m.alerts.active()[0]?.labels).toMatchObject({ strategy: 's', symbol: 'BTCUSDT', side: 'buy' });
  });
});
