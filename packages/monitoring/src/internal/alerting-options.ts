import { systemClock } from '../clock.js';
import { invalidOption } from '../errors.js';
import { EwmaDetector } from '../ewma-detector.js';
import { MadDetector } from '../mad-detector.js';
import type {
  AlertCondition,
  AlertingOptions,
  Clock,
  CompareOp,
  DeliveryOptions,
  DetectorSpec,
  InhibitRule,
  LabelMatchers,
  Notifier,
  Severity,
} from '../types.js';
import { parseDuration } from './duration.js';
import { checkKnownKeys } from './known-keys.js';
import { validateMatchers } from './label-matchers.js';
import { LABEL_NAME_RE, METRIC_NAME_RE } from './text-format.js';

/** Defaults of {@link AlertingOptions}, routes and delivery, in one place. */
export const ALERTING_DEFAULTS = {
  evaluationIntervalMs: 15_000,
  historySize: 1_000,
  maxSeriesPerRule: 1_000,
  severity: 'warning' as Severity,
  route: {
    groupBy: ['alertname'],
    groupWaitMs: 30_000,
    groupIntervalMs: 300_000,
    repeatIntervalMs: 4 * 3_600_000,
    sendResolved: true,
  },
  delivery: { queueSize: 100, maxAttempts: 5, backoffMs: 1_000, maxBackoffMs: 30_000, timeoutMs: 10_000 },
} as const;

/** A validated condition; durations in ms. */
export type ResolvedCondition =
  | { type: 'threshold'; metric: string; matchers?: LabelMatchers; op: CompareOp; value: number }
  | { type: 'rate'; metric: string; matchers?: LabelMatchers; windowMs: number; op: CompareOp; value: number }
  | {
      type: 'quantile';
      metric: string;
      matchers?: LabelMatchers;
      quantile: number;
      windowMs: number;
      op: CompareOp;
      value: number;
    }
  | { type: 'anomaly'; metric: string; matchers?: LabelMatchers; source: 'value' | 'rate'; detector: DetectorSpec }
  | { type: 'custom'; read: () => number | undefined | Promise<number | undefined>; op: CompareOp; value: number };

export interface ResolvedRule {
  name: string;
  condition: ResolvedCondition;
  forMs: number;
  keepFiringForMs: number;
  severity: Severity;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ResolvedRoute {
  index: number;
  matchers: LabelMatchers | undefined;
  notifiers: string[];
  groupBy: string[];
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  sendResolved: boolean;
  continue: boolean;
  escalation: { afterMs: number; notifiers: string[] }[];
}

export type ResolvedDelivery = Required<DeliveryOptions>;

export interface ResolvedAlerting {
  rules: ResolvedRule[];
  routes: ResolvedRoute[];
  notifiers: Map<string, { notifier: Notifier; delivery: ResolvedDelivery }>;
  inhibitRules: Required<InhibitRule>[];
  evaluationIntervalMs: number;
  historySize: number;
  maxSeriesPerRule: number;
  clock: Clock;
}

const CONDITION_KEYS: Readonly<Record<AlertCondition['type'], readonly string[]>> = {
  threshold: ['type', 'metric', 'matchers', 'op', 'value'],
  rate: ['type', 'metric', 'matchers', 'window', 'op', 'value'],
  quantile: ['type', 'metric', 'matchers', 'quantile', 'window', 'op', 'value'],
  anomaly: ['type', 'metric', 'matchers', 'source', 'detector'],
  custom: ['type', 'read', 'op', 'value'],
};
const DETECTOR_KEYS = {
  ewma: ['kind', 'alpha', 'threshold', 'warmup', 'minDeviation', 'direction'],
  mad: ['kind', 'window', 'threshold', 'warmup', 'minDeviation', 'direction'],
} as const;

const OPS: readonly string[] = ['>', '>=', '<', '<=', '==', '!='];
const SEVERITIES: readonly string[] = ['info', 'warning', 'critical'];

function obj(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidOption(field, 'must be an object');
  return value as Record<string, unknown>;
}

function finite(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidOption(field, 'must be a finite number');
  return value;
}

function op(value: unknown, field: string): CompareOp {
  if (typeof value !== 'string' || !OPS.includes(value)) throw invalidOption(field, `must be one of ${OPS.join(' ')}`);
  return value as CompareOp;
}

function metricName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !METRIC_NAME_RE.test(value)) throw invalidOption(field, 'must be a metric name');
  return value;
}

function stringRecord(value: unknown, field: string, labelNames: boolean): Record<string, string> {
  if (value === undefined) return {};
  const o = obj(value, field);
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'string') throw invalidOption(`${field}.${k}`, 'must be a string');
    if (labelNames && !LABEL_NAME_RE.test(k)) throw invalidOption(`${field}.${k}`, 'is not a valid label name');
  }
  return { ...(o as Record<string, string>) };
}

function names(value: unknown, field: string, known: Set<string> | undefined, nonEmpty: boolean): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === ''))
    throw invalidOption(field, 'must be an array of names');
  if (nonEmpty && value.length === 0) throw invalidOption(field, 'must not be empty');
  if (known)
    for (const [i, n] of value.entries())
      if (!known.has(n)) throw invalidOption(`${field}[${i}]`, `unknown notifier ${JSON.stringify(n)}`);
  return [...value] as string[];
}

function detector(value: unknown, field: string): DetectorSpec {
  const d = obj(value, field);
  if (d.kind === 'ewma' || d.kind === 'mad') checkKnownKeys(d, DETECTOR_KEYS[d.kind], `${field}.`);
  // Construct once to validate every field, naming it on error.
  if (d.kind === 'ewma') new EwmaDetector(d as object, field);
  else if (d.kind === 'mad') new MadDetector(d as object, field);
  else throw invalidOption(`${field}.kind`, "must be 'ewma' or 'mad'");
  return { ...(d as unknown as DetectorSpec) };
}

function condition(value: unknown, field: string): ResolvedCondition {
  const c = obj(value, field) as Partial<AlertCondition> & Record<string, unknown>;
  if (typeof c.type === 'string' && Object.hasOwn(CONDITION_KEYS, c.type))
    checkKnownKeys(c, CONDITION_KEYS[c.type as AlertCondition['type']], `${field}.`);
  const matchers = c.type === 'custom' ? undefined : validateMatchers(c.matchers, `${field}.matchers`);
  switch (c.type) {
    case 'threshold':
      return {
        type: 'threshold',
        metric: metricName(c.metric, `${field}.metric`),
        matchers,
        op: op(c.op, `${field}.op`),
        value: finite(c.value, `${field}.value`),
      };
    case 'rate': {
      const windowMs = parseDuration(c.window as never, `${field}.window`);
      if (windowMs <= 0) throw invalidOption(`${field}.window`, 'must be > 0');
      return {
        type: 'rate',
        metric: metricName(c.metric, `${field}.metric`),
        matchers,
        windowMs,
        op: op(c.op, `${field}.op`),
        value: finite(c.value, `${field}.value`),
      };
    }
    case 'quantile': {
      const q = c.quantile;
      if (typeof q !== 'number' || !(q > 0 && q < 1)) throw invalidOption(`${field}.quantile`, 'must be in (0, 1)');
      return {
        type: 'quantile',
        metric: metricName(c.metric, `${field}.metric`),
        matchers,
        quantile: q,
        windowMs: c.window === undefined ? 0 : parseDuration(c.window as never, `${field}.window`),
        op: op(c.op, `${field}.op`),
        value: finite(c.value, `${field}.value`),
      };
    }
    case 'anomaly': {
      const source = c.source ?? 'value';
      if (source !== 'value' && source !== 'rate') throw invalidOption(`${field}.source`, "must be 'value' or 'rate'");
      return {
        type: 'anomaly',
        metric: metricName(c.metric, `${field}.metric`),
        matchers,
        source,
        detector: detector(c.detector, `${field}.detector`),
      };
    }
    case 'custom':
      if (typeof c.read !== 'function') throw invalidOption(`${field}.read`, 'must be a function');
      return {
        type: 'custom',
        read: c.read as () => number | undefined,
        op: op(c.op, `${field}.op`),
        value: finite(c.value, `${field}.value`),
      };
    default:
      throw invalidOption(`${field}.type`, "must be 'threshold', 'rate', 'quantile', 'anomaly' or 'custom'");
  }
}

function delivery(value: unknown, field: string): ResolvedDelivery {
  const d = value === undefined ? {} : obj(value, field);
  checkKnownKeys(d, ['queueSize', 'maxAttempts', 'backoffMs', 'maxBackoffMs', 'timeoutMs'], `${field}.`);
  const D = ALERTING_DEFAULTS.delivery;
  const int = (v: unknown, f: string, fallback: number, min: number) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw invalidOption(`${field}.${f}`, `must be an integer >= ${min}`);
    return v;
  };
  return {
    queueSize: int(d.queueSize, 'queueSize', D.queueSize, 1),
    maxAttempts: int(d.maxAttempts, 'maxAttempts', D.maxAttempts, 1),
    backoffMs: int(d.backoffMs, 'backoffMs', D.backoffMs, 0),
    maxBackoffMs: int(d.maxBackoffMs, 'maxBackoffMs', D.maxBackoffMs, 0),
    timeoutMs: int(d.timeoutMs, 'timeoutMs', D.timeoutMs, 1),
  };
}

/** Validates {@link AlertingOptions}, naming the bad field (e.g. `alerting.rules[2].for`). */
export function resolveAlertingOptions(options: AlertingOptions | undefined): ResolvedAlerting {
  const o = options === undefined ? {} : (obj(options, 'alerting') as AlertingOptions);
  checkKnownKeys(
    o,
    ['rules', 'routes', 'notifiers', 'inhibitRules', 'evaluationInterval', 'historySize', 'maxSeriesPerRule', 'clock'],
    'alerting.',
  );
  const notifiers = new Map<string, { notifier: Notifier; delivery: ResolvedDelivery }>();
  if (o.notifiers !== undefined && !Array.isArray(o.notifiers))
    throw invalidOption('alerting.notifiers', 'must be an array');
  for (const [i, n] of (o.notifiers ?? []).entries()) {
    const field = `alerting.notifiers[${i}]`;
    if (typeof n !== 'object' || n === null || typeof n.send !== 'function')
      throw invalidOption(field, 'must have send()');
    if (typeof n.name !== 'string' || n.name === '') throw invalidOption(`${field}.name`, 'must be a non-empty string');
    if (notifiers.has(n.name))
      throw invalidOption(`${field}.name`, `duplicate notifier name ${JSON.stringify(n.name)}`);
    notifiers.set(n.name, { notifier: n, delivery: delivery(n.delivery, `${field}.delivery`) });
  }
  const known = new Set(notifiers.keys());

  if (o.rules !== undefined && !Array.isArray(o.rules)) throw invalidOption('alerting.rules', 'must be an array');
  const ruleNames = new Set<string>();
  const rules = (o.rules ?? []).map((r, i): ResolvedRule => {
    const field = `alerting.rules[${i}]`;
    obj(r, field);
    checkKnownKeys(r, ['name', 'condition', 'for', 'keepFiringFor', 'severity', 'labels', 'annotations'], `${field}.`);
    if (typeof r.name !== 'string' || !LABEL_NAME_RE.test(r.name))
      throw invalidOption(`${field}.name`, 'must be a name ([a-zA-Z_][a-zA-Z0-9_]*)');
    if (ruleNames.has(r.name)) throw invalidOption(`${field}.name`, `duplicate rule name ${r.name}`);
    ruleNames.add(r.name);
    const severity = r.severity ?? ALERTING_DEFAULTS.severity;
    if (!SEVERITIES.includes(severity))
      throw invalidOption(`${field}.severity`, "must be 'info', 'warning' or 'critical'");
    return {
      name: r.name,
      condition: condition(r.condition, `${field}.condition`),
      forMs: parseDuration(r.for, `${field}.for`, 0),
      keepFiringForMs: parseDuration(r.keepFiringFor, `${field}.keepFiringFor`, 0),
      severity,
      labels: stringRecord(r.labels, `${field}.labels`, true),
      annotations: stringRecord(r.annotations, `${field}.annotations`, false),
    };
  });

  if (o.routes !== undefined && !Array.isArray(o.routes)) throw invalidOption('alerting.routes', 'must be an array');
  const R = ALERTING_DEFAULTS.route;
  const routes = (o.routes ?? []).map((r, i): ResolvedRoute => {
    const field = `alerting.routes[${i}]`;
    obj(r, field);
    checkKnownKeys(
      r,
      [
        'matchers',
        'notifiers',
        'groupBy',
        'groupWait',
        'groupInterval',
        'repeatInterval',
        'sendResolved',
        'continue',
        'escalation',
      ],
      `${field}.`,
    );
    const escalation = (r.escalation ?? []).map((s, j) => {
      const f = `${field}.escalation[${j}]`;
      obj(s, f);
      checkKnownKeys(s, ['after', 'notifiers'], `${f}.`);
      return {
        afterMs: parseDuration(s.after, `${f}.after`),
        notifiers: names(s.notifiers, `${f}.notifiers`, known, true),
      };
    });
    if (!Array.isArray(r.escalation) && r.escalation !== undefined)
      throw invalidOption(`${field}.escalation`, 'must be an array');
    for (let j = 1; j < escalation.length; j++) {
      if ((escalation[j] as { afterMs: number }).afterMs <= (escalation[j - 1] as { afterMs: number }).afterMs) {
        throw invalidOption(`${field}.escalation[${j}].after`, 'must be later than the previous step');
      }
    }
    const groupIntervalMs = parseDuration(r.groupInterval, `${field}.groupInterval`, R.groupIntervalMs);
    if (groupIntervalMs <= 0) throw invalidOption(`${field}.groupInterval`, 'must be > 0');
    if (r.sendResolved !== undefined && typeof r.sendResolved !== 'boolean')
      throw invalidOption(`${field}.sendResolved`, 'must be a boolean');
    if (r.continue !== undefined && typeof r.continue !== 'boolean')
      throw invalidOption(`${field}.continue`, 'must be a boolean');
    return {
      index: i,
      matchers: validateMatchers(r.matchers, `${field}.matchers`),
      notifiers: names(r.notifiers, `${field}.notifiers`, known, false),
      groupBy: r.groupBy === undefined ? [...R.groupBy] : names(r.groupBy, `${field}.groupBy`, undefined, false),
      groupWaitMs: parseDuration(r.groupWait, `${field}.groupWait`, R.groupWaitMs),
      groupIntervalMs,
      repeatIntervalMs: parseDuration(r.repeatInterval, `${field}.repeatInterval`, R.repeatIntervalMs),
      sendResolved: r.sendResolved ?? R.sendResolved,
      continue: r.continue ?? false,
      escalation,
    };
  });
  if (routes.length === 0) {
    routes.push({
      index: 0,
      matchers: undefined,
      notifiers: [...known],
      groupBy: [...R.groupBy],
      groupWaitMs: R.groupWaitMs,
      groupIntervalMs: R.groupIntervalMs,
      repeatIntervalMs: R.repeatIntervalMs,
      sendResolved: R.sendResolved,
      continue: false,
      escalation: [],
    });
  }

  if (o.inhibitRules !== undefined && !Array.isArray(o.inhibitRules))
    throw invalidOption('alerting.inhibitRules', 'must be an array');
  const inhibitRules = (o.inhibitRules ?? []).map((r, i) => {
    const field = `alerting.inhibitRules[${i}]`;
    obj(r, field);
    checkKnownKeys(r, ['sourceMatchers', 'targetMatchers', 'equal'], `${field}.`);
    return {
      sourceMatchers: validateMatchers(r.sourceMatchers, `${field}.sourceMatchers`, true) as LabelMatchers,
      targetMatchers: validateMatchers(r.targetMatchers, `${field}.targetMatchers`, true) as LabelMatchers,
      equal: r.equal === undefined ? [] : names(r.equal, `${field}.equal`, undefined, false),
    };
  });

  const evaluationIntervalMs = parseDuration(
    o.evaluationInterval,
    'alerting.evaluationInterval',
    ALERTING_DEFAULTS.evaluationIntervalMs,
  );
  if (evaluationIntervalMs <= 0) throw invalidOption('alerting.evaluationInterval', 'must be > 0');
  const posInt = (v: unknown, f: string, fallback: number) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalidOption(f, 'must be a positive integer');
    return v;
  };
  const clock = o.clock ?? systemClock;
  if (
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw invalidOption('alerting.clock', 'must have now(), setTimeout() and clearTimeout()');
  }
  return {
    rules,
    routes,
    notifiers,
    inhibitRules,
    evaluationIntervalMs,
    historySize: posInt(o.historySize, 'alerting.historySize', ALERTING_DEFAULTS.historySize),
    maxSeriesPerRule: posInt(o.maxSeriesPerRule, 'alerting.maxSeriesPerRule', ALERTING_DEFAULTS.maxSeriesPerRule),
    clock,
  };
}
