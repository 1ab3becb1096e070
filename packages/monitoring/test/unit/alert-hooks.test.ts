import diagnostics from 'node:diagnostics_channel';
import { Gauge } from 'prom-client';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AlertEvent,
  type Hook,
  ManualClock,
  MONITORING_ALERT_CHANNEL,
  Monitoring,
  type Notification,
  type Notifier,
} from '../../src/index.js';

const S = 1000;
const open: Monitoring[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close({ drainTimeoutMs: 10 })));
});

function setup(name: string) {
  const clock = new ManualClock(1_700_000_000_000);
  const sent: Notification[] = [];
  const pager: Notifier = { name: 'pager', send: async (n) => void sent.push(n) };
  const m = new Monitoring({
    name,
    defaultMetrics: false,
    systemMetrics: false,
    tracing: false,
    alerting: {
      evaluationInterval: '15s',
      clock,
      rules: [{ name: 'Deep', condition: { type: 'threshold', metric: 'queue_depth', op: '>', value: 10 } }],
      notifiers: [pager],
      routes: [{ notifiers: ['pager'], groupWait: '0s', groupInterval: '5m', repeatInterval: '1h' }],
    },
  });
  open.push(m);
  const depth = new Gauge({ name: 'queue_depth', help: 'depth', labelNames: ['queue'], registers: [m.registry] });
  return { m, clock, depth, sent };
}

describe('AlertManager hooks', () => {
  it('onAlert delivers every recorded event (the channel payload without component); onNotification only outcomes', async () => {
    const { m, clock, depth, sent } = setup('hooks-mon');
    expectTypeOf(m.alerts.onAlert).toEqualTypeOf<Hook<AlertEvent>>();
    const channel: Array<Record<string, unknown>> = [];
    const onChannel = (message: unknown) => {
      if ((message as { component: string }).component === 'hooks-mon')
        channel.push(message as Record<string, unknown>);
    };
    diagnostics.subscribe(MONITORING_ALERT_CHANNEL, onChannel);
    const events: AlertEvent[] = [];
    const notifications: AlertEvent[] = [];
    m.alerts.onAlert((e) => events.push(e));
    m.alerts.onNotification((e) => notifications.push(e));
    try {
      depth.set({ queue: 'a' }, 50);
      await clock.advance(15 * S);
      await clock.advance(15 * S);
      await clock.advance(15 * S);
    } finally {
      diagnostics.unsubscribe(MONITORING_ALERT_CHANNEL, onChannel);
    }
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(events.map((e) => e.type)).toContain('firing');
    expect(events).toEqual(m.alerts.history());
    expect(channel).toEqual(events.map((e) => ({ component: 'hooks-mon', ...e })));
    expect(notifications.map((e) => e.type)).toEqual(['notified']);
    expect(notifications[0]).toMatchObject({ notifier: 'pager', alertname: 'Deep' });
  });

  it('a throwing listener is counted, the others and the deprecated onEvent still run; dispose is idempotent', async () => {
    const { m, clock, depth } = setup('hooks-throw');
    m.alerts.onAlert(() => {
      throw new Error('listener bug');
    });
    const seen: string[] = [];
    const legacy: string[] = [];
    const sub = m.alerts.onAlert((e) => seen.push(e.type));
    const off = m.alerts.onEvent((e) => legacy.push(e.type));
    depth.set({ queue: 'a' }, 50);
    await clock.advance(15 * S);
    sub.dispose();
    sub.dispose();
    off();
    off();
    depth.set({ queue: 'a' }, 0);
    await clock.advance(15 * S);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(legacy).toEqual(seen);
    const recorded = m.alerts.history().length;
    expect(recorded).toBeGreaterThan(seen.length);
    expect(m.alerts.stats().hookListenerErrors).toBe(recorded);
  });
});
