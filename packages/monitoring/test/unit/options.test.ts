import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  EmailNotifier,
  isInvalidOptionError,
  isMonitoringError,
  Monitoring,
  MonitoringError,
  SlackNotifier,
  WebhookNotifier,
} from '../../src/index.js';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (isInvalidOptionError(error)) return error.field;
    throw error;
  }
  return undefined;
}

const quiet = { defaultMetrics: false, systemMetrics: false, tracing: false } as const;
const notifier = { name: 'n', send: async () => {} };

describe('MonitoringError', () => {
  it('has a code, context, cause and a brand that survives duplicate installs', () => {
    const cause = new Error('boom');
    const e = new MonitoringError('E_MONITORING_NOTIFY_GAVE_UP', 'gave up', { notifier: 'slack', attempts: 3, cause });
    expect(e.name).toBe('MonitoringError');
    expect(e.code).toBe('E_MONITORING_NOTIFY_GAVE_UP');
    expect(e.notifier).toBe('slack');
    expect(e.attempts).toBe(3);
    expect(e.cause).toBe(cause);
    expect(isMonitoringError(e)).toBe(true);
    // A structurally branded object from "another copy" of the package.
    expect(isMonitoringError({ [Symbol.for('cryptoscalp.monitoring.error')]: true })).toBe(true);
    expect(isMonitoringError(new Error('x'))).toBe(false);
    expect(isMonitoringError(null)).toBe(false);
    expect(isInvalidOptionError(e)).toBe(false);
  });
});

describe('options validation names the field', () => {
  it.each([
    [{ name: '' }, 'name'],
    [{ prefix: '9bad' }, 'prefix'],
    [{ registry: {} }, 'registry'],
    [{ defaultMetrics: 'yes' }, 'defaultMetrics'],
    [{ systemMetrics: { filesystems: [''] } }, 'systemMetrics.filesystems'],
    [{ systemMetrics: { network: 1 } }, 'systemMetrics.network'],
    [{ systemMetrics: 3 }, 'systemMetrics'],
    [{ scrape: { maxSeriesPerMetric: 0 } }, 'scrape.maxSeriesPerMetric'],
    [{ scrape: { collectorTimeoutMs: -1 } }, 'scrape.collectorTimeoutMs'],
    [{ scrape: { sliceMs: Number.NaN } }, 'scrape.sliceMs'],
    [{ tracing: {} }, 'tracing'],
    [{ durationBuckets: [1, 1] }, 'durationBuckets'],
    [{ durationBuckets: [] }, 'durationBuckets'],
    // Unknown keys: a misspelt option must not silently keep its default.
    [{ defaultMetric: false }, 'defaultMetric'],
    [{ scrape: { maxSeries: 10 } }, 'scrape.maxSeries'],
    [{ systemMetrics: { disks: ['/'] } }, 'systemMetrics.disks'],
    [{ alerting: { rule: [] } }, 'alerting.rule'],
  ])('%j -> %s', (bad, field) => {
    expect(fieldOf(() => new Monitoring({ ...quiet, ...(bad as object) }))).toBe(field);
  });

  const rule = { name: 'r', condition: { type: 'threshold', metric: 'm', op: '>', value: 1 } };
  it.each([
    [{ rules: {} }, 'alerting.rules'],
    [{ rules: [{ ...rule, name: 'bad name' }] }, 'alerting.rules[0].name'],
    [{ rules: [rule, rule] }, 'alerting.rules[1].name'],
    [{ rules: [{ ...rule, for: '5 minutes' }] }, 'alerting.rules[0].for'],
    [{ rules: [{ ...rule, keepFiringFor: -5 }] }, 'alerting.rules[0].keepFiringFor'],
    [{ rules: [{ ...rule, severity: 'page' }] }, 'alerting.rules[0].severity'],
    [{ rules: [{ ...rule, labelz: {} }] }, 'alerting.rules[0].labelz'],
    [{ rules: [{ ...rule, condition: { ...rule.condition, window: '5m' } }] }, 'alerting.rules[0].condition.window'],
    [
      {
        rules: [{ ...rule, condition: { type: 'anomaly', metric: 'm', detector: { kind: 'ewma', window: 5 } } }],
      },
      'alerting.rules[0].condition.detector.window',
    ],
    [{ routes: [{ notifiers: [], groupWaitMs: 5 }] }, 'alerting.routes[0].groupWaitMs'],
    [
      { inhibitRules: [{ sourceMatchers: { a: 'b' }, targetMatchers: { a: 'c' }, equals: [] }] },
      'alerting.inhibitRules[0].equals',
    ],
    [{ rules: [{ ...rule, labels: { team: 1 } }] }, 'alerting.rules[0].labels.team'],
    [{ rules: [{ ...rule, labels: { 'bad-name': 'x' } }] }, 'alerting.rules[0].labels.bad-name'],
    [{ rules: [{ name: 'r', condition: { type: 'nope' } }] }, 'alerting.rules[0].condition.type'],
    [
      { rules: [{ name: 'r', condition: { type: 'threshold', metric: 'a-b', op: '>', value: 1 } }] },
      'alerting.rules[0].condition.metric',
    ],
    [
      { rules: [{ name: 'r', condition: { type: 'threshold', metric: 'm', op: '=>', value: 1 } }] },
      'alerting.rules[0].condition.op',
    ],
    [
      { rules: [{ name: 'r', condition: { type: 'threshold', metric: 'm', op: '>', value: 'x' } }] },
      'alerting.rules[0].condition.value',
    ],
    [
      { rules: [{ name: 'r', condition: { type: 'rate', metric: 'm', op: '>', value: 1 } }] },
      'alerting.rules[0].condition.window',
    ],
    [
      { rules: [{ name: 'r', condition: { type: 'quantile', metric: 'm', quantile: 1, op: '>', value: 1 } }] },
      'alerting.rules[0].condition.quantile',
    ],
    [
      { rules: [{ name: 'r', condition: { type: 'anomaly', metric: 'm', detector: { kind: 'x' } } }] },
      'alerting.rules[0].condition.detector.kind',
    ],
    [
      { rules: [{ name: 'r', condition: { type: 'anomaly', metric: 'm', detector: { kind: 'ewma', alpha: 2 } } }] },
      'alerting.rules[0].condition.detector.alpha',
    ],
    [
      { rules: [{ name: 'r', condition: { type: 'anomaly', metric: 'm', detector: { kind: 'mad', window: 2 } } }] },
      'alerting.rules[0].condition.detector.window',
    ],
    [
      { rules: [{ name: 'r', condition: { type: 'anomaly', metric: 'm', source: 'x', detector: { kind: 'mad' } } }] },
      'alerting.rules[0].condition.source',
    ],
    [
      { rules: [{ name: 'r', condition: { type: 'threshold', metric: 'm', op: '>', value: 1, matchers: { a: 1 } } }] },
      'alerting.rules[0].condition.matchers.a',
    ],
    [{ rules: [{ name: 'r', condition: { type: 'custom', op: '>', value: 1 } }] }, 'alerting.rules[0].condition.read'],
    [{ notifiers: [{ name: 'x' }] }, 'alerting.notifiers[0]'],
    [{ notifiers: [notifier, notifier] }, 'alerting.notifiers[1].name'],
    [{ notifiers: [{ ...notifier, delivery: { maxAttempts: 0 } }] }, 'alerting.notifiers[0].delivery.maxAttempts'],
    [{ notifiers: [notifier], routes: [{ notifiers: ['nope'] }] }, 'alerting.routes[0].notifiers[0]'],
    [{ notifiers: [notifier], routes: [{ notifiers: ['n'], groupWait: 'soon' }] }, 'alerting.routes[0].groupWait'],
    [{ notifiers: [notifier], routes: [{ notifiers: ['n'], groupInterval: 0 }] }, 'alerting.routes[0].groupInterval'],
    [{ notifiers: [notifier], routes: [{ notifiers: ['n'], sendResolved: 'yes' }] }, 'alerting.routes[0].sendResolved'],
    [
      { notifiers: [notifier], routes: [{ notifiers: ['n'], escalation: [{ after: '5m', notifiers: [] }] }] },
      'alerting.routes[0].escalation[0].notifiers',
    ],
    [
      {
        notifiers: [notifier],
        routes: [
          {
            notifiers: ['n'],
            escalation: [
              { after: '5m', notifiers: ['n'] },
              { after: '1m', notifiers: ['n'] },
            ],
          },
        ],
      },
      'alerting.routes[0].escalation[1].after',
    ],
    [{ inhibitRules: [{ targetMatchers: {} }] }, 'alerting.inhibitRules[0].sourceMatchers'],
    [{ evaluationInterval: 0 }, 'alerting.evaluationInterval'],
    [{ historySize: 0 }, 'alerting.historySize'],
    [{ clock: { now: () => 0 } }, 'alerting.clock'],
  ])('alerting %j -> %s', (bad, field) => {
    expect(fieldOf(() => new Monitoring({ ...quiet, alerting: bad as never }))).toBe(field);
  });

  it('leaves an injected registry untouched when construction fails', () => {
    const registry = new Registry();
    expect(() => new Monitoring({ ...quiet, registry, alerting: { historySize: -1 } })).toThrow(MonitoringError);
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });

  it('validates notifier options', () => {
    expect(fieldOf(() => new WebhookNotifier({ url: 'not a url' }))).toBe('webhook.url');
    expect(fieldOf(() => new WebhookNotifier({ url: 'ftp://x' }))).toBe('webhook.url');
    expect(fieldOf(() => new WebhookNotifier({ url: 'http://127.0.0.1/', secret: 'short' }))).toBe('webhook.secret');
    expect(fieldOf(() => new SlackNotifier({ channel: '#a' }))).toBe('slack.token');
    expect(fieldOf(() => new SlackNotifier({ token: 'xoxb-1', channel: '' }))).toBe('slack.channel');
    expect(fieldOf(() => new SlackNotifier({ token: 'xoxb-1', channel: '#a', slackApiUrl: 'nope' }))).toBe(
      'slack.slackApiUrl',
    );
    expect(fieldOf(() => new EmailNotifier({ transport: { host: '127.0.0.1' }, from: 'nobody', to: 'a@b.c' }))).toBe(
      'email.from',
    );
    expect(fieldOf(() => new EmailNotifier({ transport: { host: '127.0.0.1' }, from: 'a@b.c', to: [] }))).toBe(
      'email.to',
    );
    expect(fieldOf(() => new EmailNotifier({ transport: null as never, from: 'a@b.c', to: 'x@y.z' }))).toBe(
      'email.transport',
    );
    expect(fieldOf(() => new WebhookNotifier({ url: 'http://127.0.0.1/', header: {} } as never))).toBe(
      'webhook.header',
    );
    expect(fieldOf(() => new SlackNotifier({ token: 'xoxb-1', channel: '#a', chanel: '#b' } as never))).toBe(
      'slack.chanel',
    );
    expect(
      fieldOf(
        () => new EmailNotifier({ transport: { host: '127.0.0.1' }, from: 'a@b.c', to: 'x@y.z', cc: 'x' } as never),
      ),
    ).toBe('email.cc');
  });
});
