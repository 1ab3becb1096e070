import { randomUUID } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { type Hook, HookEmitter } from '@cryptoscalp/contracts';
import type { Registry } from 'prom-client';
import { MONITORING_ALERT_CHANNEL } from './channels.js';
import { DeliveryQueue } from './delivery-queue.js';
import { invalidOption, MonitoringError } from './errors.js';
import { type ResolvedAlerting, type ResolvedRoute, resolveAlertingOptions } from './internal/alerting-options.js';
import { parseDuration } from './internal/duration.js';
import { FastCounter } from './internal/fast-counter.js';
import { FastGauge } from './internal/fast-gauge.js';
import { fingerprint } from './internal/fingerprint.js';
import { matches, validateMatchers } from './internal/label-matchers.js';
import { type MetricSnapshot, readMetric } from './internal/metric-reader.js';
import { RuleEvaluator } from './internal/rule-evaluator.js';
import type {
  Alert,
  AlertEvent,
  AlertEventType,
  AlertingOptions,
  Notification,
  Silence,
  SilenceInput,
} from './types.js';

/** @internal Setup of {@link AlertManager}. */
export interface AlertManagerSetup {
  name: string;
  registry: Registry;
  prefix: string;
  alerting: AlertingOptions | undefined;
}

interface AlertState {
  alert: Alert;
  rule: string;
  lastActiveAt: number;
  annotationTemplates: Record<string, string>;
  escalationTimers: unknown[];
  mutedEvent: '' | 'silenced' | 'inhibited';
}

interface Group {
  key: string;
  route: ResolvedRoute;
  labels: Record<string, string>;
  alerts: Map<string, AlertState>;
  notified: Set<string>;
  lastNotifyAt: number;
  timer: unknown;
}

const MAX_SILENCES = 1_000;
const MAX_ALERTS = 10_000;
const alertChannel = diagnostics_channel.channel(MONITORING_ALERT_CHANNEL);

function render(template: string, value: number, labels: Record<string, string>): string {
  return template.replace(
    /\{\{\s*(value|labels\.([a-zA-Z_][a-zA-Z0-9_]*))\s*\}\}/g,
    (_, what: string, label?: string) => (what === 'value' ? String(value) : (labels[label as string] ?? '')),
  );
}

function copyAlert(a: Alert): Alert {
  return {
    ...a,
    labels: { ...a.labels },
    annotations: { ...a.annotations },
    silencedBy: [...a.silencedBy],
    ...(a.acknowledged ? { acknowledged: { ...a.acknowledged } } : {}),
  };
}

/**
 * Evaluates alert rules on a schedule and routes the resulting alerts to notifiers with
 * Alertmanager's semantics: pending → firing after `for`, `keepFiringFor`, resolved notifications,
 * fingerprint dedup, grouping (group wait / interval / repeat interval), routes by label matchers,
 * silences, inhibition, escalation when not acknowledged, and a bounded history.
 */
export class AlertManager {
  private readonly cfg: ResolvedAlerting;
  private readonly evaluators: RuleEvaluator[];
  private readonly alerts = new Map<string, AlertState>();
  private readonly byRule = new Map<string, Map<string, AlertState>>();
  private readonly seriesCache = new Map<string, Map<string, { labels: Record<string, string>; fp: string }>>();
  private readonly groups = new Map<string, Group>();
  private readonly silenceList = new Map<string, Silence>();
  private readonly events: AlertEvent[] = [];
  private readonly queues = new Map<string, DeliveryQueue>();
  private readonly gaveUpAt = new Map<string, number>();
  // A throwing listener is counted (`stats().hookListenerErrors`): the alert path has no error channel of its own.
  private readonly alertHook = new HookEmitter<AlertEvent>();
  private readonly notificationHook = new HookEmitter<AlertEvent>();

  /**
   * Calls `listener` for every alert event, as `history()` records it (`pending`, `firing`, `resolved`, `notified`,
   * `notification_failed`, `silenced`, `inhibited`, `escalated`, `acknowledged`). The same events go to
   * `cryptoscalp:monitoring:alert` with the instance name as `component`. Returns a disposable that removes the
   * listener; replaces {@link AlertManager.onEvent}.
   */
  readonly onAlert: Hook<AlertEvent> = this.alertHook.hook;

  /**
   * Calls `listener` for each notification outcome only (`notified` or `notification_failed`, with `notifier` and
   * `alertIds`). Returns a disposable that removes the listener.
   */
  readonly onNotification: Hook<AlertEvent> = this.notificationHook.hook;
  private readonly evalDuration: FastGauge;
  private readonly evalFailures: FastCounter;
  private readonly notifications: FastCounter;
  private seq = 0;
  private evalTimer: unknown;
  private evaluating: Promise<void> | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly setup: AlertManagerSetup) {
    this.cfg = resolveAlertingOptions(setup.alerting);
    this.evaluators = this.cfg.rules.map((r) => new RuleEvaluator(r, this.cfg.maxSeriesPerRule));
    const p = setup.prefix;
    const alertsGauge = new FastGauge(`${p}cryptoscalp_alerts`, 'Active alerts by state.', ['state']).register(
      setup.registry,
    );
    const pending = alertsGauge.labels('pending');
    const firing = alertsGauge.labels('firing');
    alertsGauge.collect = () => {
      let f = 0;
      for (const st of this.alerts.values()) if (st.alert.state === 'firing') f++;
      firing.set(f);
      pending.set(this.alerts.size - f);
    };
    this.evalDuration = new FastGauge(
      `${p}cryptoscalp_alert_rule_evaluation_duration_seconds`,
      'Duration of the previous evaluation of all rules.',
      [],
    ).register(setup.registry);
    this.evalFailures = new FastCounter(
      `${p}cryptoscalp_alert_rule_evaluation_failures_total`,
      'Rule evaluations that threw.',
      ['rule'],
    ).register(setup.registry);
    this.notifications = new FastCounter(
      `${p}cryptoscalp_alert_notifications_total`,
      'Notification deliveries by notifier and outcome (sent, failed_attempt, gave_up, dropped).',
      ['notifier', 'outcome'],
    ).register(setup.registry);
    const queueLength = new FastGauge(
      `${p}cryptoscalp_alert_notifier_queue_length`,
      'Notifications waiting per notifier.',
      ['notifier'],
    ).register(setup.registry);
    queueLength.collect = () => {
      for (const [name, q] of this.queues) queueLength.labels(name).set(q.length);
    };

    for (const [name, { notifier, delivery }] of this.cfg.notifiers) {
      this.queues.set(
        name,
        new DeliveryQueue(notifier, delivery, this.cfg.clock, {
          sent: (n, notification) => {
            this.notifications.labels(n, 'sent').inc();
            this.recordNotification('notified', notification, n);
          },
          failedAttempt: (n) => this.notifications.labels(n, 'failed_attempt').inc(),
          gaveUp: (n, notification, error) => {
            this.notifications.labels(n, 'gave_up').inc();
            this.gaveUpAt.set(n, this.cfg.clock.now());
            this.recordNotification('notification_failed', notification, n, error.message);
          },
          dropped: (n) => this.notifications.labels(n, 'dropped').inc(),
        }),
      );
    }
  }

  /** @internal Starts the evaluation schedule (called by Monitoring). */
  start(): void {
    if (this.started || this.closed || this.evaluators.length === 0) return;
    this.started = true;
    this.scheduleEvaluation();
  }

  private scheduleEvaluation(): void {
    if (this.closed) return;
    this.evalTimer = this.cfg.clock.setTimeout(async () => {
      await this.evaluate();
      this.scheduleEvaluation();
    }, this.cfg.evaluationIntervalMs);
  }

  /**
   * Subscribes to alert events; returns the unsubscribe function. Listener errors are counted, never rethrown.
   * @deprecated Use {@link AlertManager.onAlert}, which returns a disposable like every hook of the suite.
   */
  onEvent(listener: (event: AlertEvent) => void): () => void {
    const subscription = this.alertHook.hook(listener);
    return () => subscription.dispose();
  }

  /** Evaluates every rule once now (the schedule does this every `evaluationInterval`). Never rejects. */
  evaluate(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.evaluating === undefined) {
      this.evaluating = this.evaluateOnce().finally(() => {
        this.evaluating = undefined;
      });
    }
    return this.evaluating;
  }

  private async evaluateOnce(): Promise<void> {
    const started = performance.now();
    const now = this.cfg.clock.now();
    const snapshots = new Map<string, MetricSnapshot | undefined>();
    for (const ev of this.evaluators) {
      const m = ev.metric;
      if (m === undefined || snapshots.has(m)) continue;
      try {
        snapshots.set(m, await readMetric(this.setup.registry, m));
      } catch {
        snapshots.set(m, undefined);
      }
    }
    for (const ev of this.evaluators) {
      const rule = ev.rule;
      let samples: Awaited<ReturnType<RuleEvaluator['evaluate']>>;
      try {
        samples = await ev.evaluate(now, ev.metric === undefined ? undefined : snapshots.get(ev.metric));
      } catch {
        this.evalFailures.labels(rule.name).inc();
        continue;
      }
      let cache = this.seriesCache.get(rule.name);
      if (cache === undefined) {
        cache = new Map();
        this.seriesCache.set(rule.name, cache);
      }
      let ruleAlerts = this.byRule.get(rule.name);
      if (ruleAlerts === undefined) {
        ruleAlerts = new Map();
        this.byRule.set(rule.name, ruleAlerts);
      }
      // Only needed to find alerts whose series vanished.
      const seen = ruleAlerts.size > 0 ? new Set<string>() : undefined;
      for (const s of samples) {
        let id = cache.get(s.key);
        if (id === undefined) {
          const labels = { ...s.labels, ...rule.labels, alertname: rule.name, severity: rule.severity };
          id = { labels, fp: fingerprint(labels) };
          if (cache.size < this.cfg.maxSeriesPerRule) cache.set(s.key, id);
        }
        seen?.add(id.fp);
        let st = this.alerts.get(id.fp);
        if (s.active) {
          if (st === undefined) {
            if (this.alerts.size >= MAX_ALERTS) continue;
            st = {
              alert: {
                id: id.fp,
                name: rule.name,
                labels: id.labels,
                annotations: {},
                severity: rule.severity,
                state: 'pending',
                value: s.value,
                activeAt: now,
                silencedBy: [],
                inhibited: false,
                escalationLevel: 0,
              },
              rule: rule.name,
              lastActiveAt: now,
              annotationTemplates: rule.annotations,
              escalationTimers: [],
              mutedEvent: '',
            };
            this.alerts.set(id.fp, st);
            ruleAlerts.set(id.fp, st);
            if (rule.forMs > 0) this.record('pending', st.alert);
          }
          st.alert.value = s.value;
          st.lastActiveAt = now;
          for (const [k, t] of Object.entries(st.annotationTemplates))
            st.alert.annotations[k] = render(t, s.value, st.alert.labels);
          if (st.alert.state === 'pending' && now - st.alert.activeAt >= rule.forMs) this.fire(st, now);
        } else if (st !== undefined) {
          st.alert.value = s.value;
          this.inactive(st, now, rule.keepFiringForMs);
        }
      }
      if (seen !== undefined) {
        for (const st of [...ruleAlerts.values()])
          if (!seen.has(st.alert.id)) this.inactive(st, now, rule.keepFiringForMs);
      }
      if (cache.size > this.cfg.maxSeriesPerRule) cache.clear();
    }
    this.evalDuration.labels().set((performance.now() - started) / 1000);
  }

  private inactive(st: AlertState, now: number, keepFiringForMs: number): void {
    if (st.alert.state === 'pending') {
      this.forget(st);
      return;
    }
    if (st.alert.state === 'firing' && (keepFiringForMs === 0 || now - st.lastActiveAt >= keepFiringForMs)) {
      st.alert.state = 'resolved';
      st.alert.resolvedAt = now;
      this.forget(st);
      this.record('resolved', st.alert);
      // The groups holding it send the resolved notification at their next flush.
    }
  }

  private forget(st: AlertState): void {
    this.alerts.delete(st.alert.id);
    this.byRule.get(st.rule)?.delete(st.alert.id);
    for (const t of st.escalationTimers.splice(0)) this.cfg.clock.clearTimeout(t);
  }

  private fire(st: AlertState, now: number): void {
    st.alert.state = 'firing';
    st.alert.firedAt = now;
    this.record('firing', st.alert);
    for (const route of this.cfg.routes) {
      if (!matches(route.matchers, st.alert.labels)) continue;
      const groupLabels: Record<string, string> = {};
      for (const l of route.groupBy) groupLabels[l] = st.alert.labels[l] ?? '';
      const key = `${route.index}:${JSON.stringify(groupLabels)}`;
      let group = this.groups.get(key);
      if (group === undefined) {
        group = {
          key,
          route,
          labels: groupLabels,
          alerts: new Map(),
          notified: new Set(),
          lastNotifyAt: Number.NEGATIVE_INFINITY,
          timer: undefined,
        };
        this.groups.set(key, group);
        const g = group;
        group.timer = this.cfg.clock.setTimeout(() => this.flush(g), route.groupWaitMs);
      }
      group.alerts.set(st.alert.id, st);
      if (!route.continue) break;
    }
  }

  private muteReason(st: AlertState, now: number): '' | 'silenced' | 'inhibited' {
    st.alert.silencedBy = this.silencesFor(st.alert.labels, now);
    st.alert.inhibited = this.isInhibited(st);
    return st.alert.silencedBy.length > 0 ? 'silenced' : st.alert.inhibited ? 'inhibited' : '';
  }

  private silencesFor(labels: Record<string, string>, now: number): string[] {
    const ids: string[] = [];
    for (const s of this.silenceList.values())
      if (s.startsAt <= now && now < s.endsAt && matches(s.matchers, labels)) ids.push(s.id);
    return ids;
  }

  private isInhibited(target: AlertState): boolean {
    for (const rule of this.cfg.inhibitRules) {
      if (!matches(rule.targetMatchers, target.alert.labels)) continue;
      for (const source of this.alerts.values()) {
        if (source === target || source.alert.state !== 'firing' || !matches(rule.sourceMatchers, source.alert.labels))
          continue;
        if (rule.equal.every((l) => (source.alert.labels[l] ?? '') === (target.alert.labels[l] ?? ''))) return true;
      }
    }
    return false;
  }

  private flush(group: Group): void {
    if (this.closed) return;
    const now = this.cfg.clock.now();
    const route = group.route;
    const firing: AlertState[] = [];
    const resolved: AlertState[] = [];
    for (const [fp, st] of group.alerts) {
      if (st.alert.state === 'firing') {
        const muted = this.muteReason(st, now);
        if (muted !== '') {
          if (st.mutedEvent !== muted) {
            st.mutedEvent = muted;
            this.record(muted, st.alert);
          }
          continue;
        }
        st.mutedEvent = '';
        firing.push(st);
      } else {
        if (group.notified.has(fp) && route.sendResolved) resolved.push(st);
        group.alerts.delete(fp);
      }
    }
    const hasNew = firing.some((st) => !group.notified.has(st.alert.id));
    const repeat = firing.length > 0 && now - group.lastNotifyAt >= route.repeatIntervalMs;
    if (hasNew || resolved.length > 0 || repeat) {
      this.send(group.key, group.labels, [...firing, ...resolved], route.notifiers, 0, now);
      group.lastNotifyAt = now;
      for (const st of firing) if (!group.notified.has(st.alert.id)) this.startEscalation(st, route);
    }
    group.notified = new Set(firing.map((st) => st.alert.id));
    if (group.alerts.size === 0) this.groups.delete(group.key);
    else group.timer = this.cfg.clock.setTimeout(() => this.flush(group), route.groupIntervalMs);
  }

  private send(
    groupKey: string,
    groupLabels: Record<string, string>,
    states: AlertState[],
    notifiers: string[],
    level: number,
    now: number,
  ): void {
    if (states.length === 0) return;
    const alerts = states.map((st) => copyAlert(st.alert));
    const first = alerts[0] as Alert;
    const commonLabels: Record<string, string> = {};
    for (const [k, v] of Object.entries(first.labels)) if (alerts.every((a) => a.labels[k] === v)) commonLabels[k] = v;
    const status = alerts.some((a) => a.state === 'firing') ? 'firing' : 'resolved';
    for (const name of notifiers) {
      const queue = this.queues.get(name);
      if (queue === undefined) continue;
      queue.enqueue({
        id: randomUUID(),
        status,
        notifier: name,
        groupKey,
        groupLabels: { ...groupLabels },
        commonLabels,
        alerts,
        escalationLevel: level,
        timestamp: now,
        source: this.setup.name,
      });
    }
  }

  private startEscalation(st: AlertState, route: ResolvedRoute): void {
    let previous = 0;
    const steps = route.escalation;
    const schedule = (i: number) => {
      const step = steps[i];
      if (step === undefined) return;
      const delay = step.afterMs - previous;
      previous = step.afterMs;
      const handle = this.cfg.clock.setTimeout(() => {
        st.escalationTimers = st.escalationTimers.filter((t) => t !== handle);
        const now = this.cfg.clock.now();
        if (this.closed || st.alert.state !== 'firing' || st.alert.acknowledged || this.muteReason(st, now) !== '')
          return;
        st.alert.escalationLevel = i + 1;
        this.record('escalated', st.alert, { notifier: step.notifiers.join(','), message: `escalation step ${i + 1}` });
        this.send(`escalation:${st.alert.id}`, { alertname: st.alert.name }, [st], step.notifiers, i + 1, now);
        schedule(i + 1);
      }, delay);
      st.escalationTimers.push(handle);
    };
    schedule(0);
  }

  private record(type: AlertEventType, alert: Alert, extra: Partial<AlertEvent> = {}): void {
    const event: AlertEvent = {
      seq: ++this.seq,
      time: this.cfg.clock.now(),
      type,
      alertId: alert.id,
      alertname: alert.name,
      severity: alert.severity,
      labels: { ...alert.labels },
      value: alert.value,
      ...extra,
    };
    this.events.push(event);
    if (this.events.length > this.cfg.historySize) this.events.splice(0, this.events.length - this.cfg.historySize);
    if (alertChannel.hasSubscribers) alertChannel.publish({ component: this.setup.name, ...event });
    this.alertHook.emit(event);
    if (type === 'notified' || type === 'notification_failed') this.notificationHook.emit(event);
  }

  private recordNotification(
    type: 'notified' | 'notification_failed',
    n: Notification,
    notifier: string,
    message?: string,
  ): void {
    const first = n.alerts[0];
    if (first === undefined) return;
    this.record(type, first, {
      notifier,
      alertIds: n.alerts.map((a) => a.id),
      message: message ?? `${n.status}${n.escalationLevel > 0 ? ` (escalation ${n.escalationLevel})` : ''}`,
    });
  }

  /** Pending and firing alerts, with their current silence and inhibition state (copies). */
  active(): Alert[] {
    const now = this.cfg.clock.now();
    const out: Alert[] = [];
    for (const st of this.alerts.values()) {
      this.muteReason(st, now);
      out.push(copyAlert(st.alert));
    }
    return out;
  }

  /** Alert events, oldest first (bounded by `historySize`). */
  history(options: { limit?: number; since?: number } = {}): AlertEvent[] {
    let out =
      options.since === undefined ? this.events : this.events.filter((e) => e.time >= (options.since as number));
    if (options.limit !== undefined) out = out.slice(-options.limit);
    return out.map((e) => ({ ...e, labels: { ...e.labels } }));
  }

  /** Mutes alerts whose labels match until `endsAt` (or `startsAt + duration`). */
  silence(input: SilenceInput): Silence {
    if (typeof input !== 'object' || input === null) throw invalidOption('silence', 'must be an object');
    const matchers = validateMatchers(input.matchers, 'silence.matchers', true) ?? {};
    if (Object.keys(matchers).length === 0) throw invalidOption('silence.matchers', 'must have at least one matcher');
    const now = this.cfg.clock.now();
    const startsAt = input.startsAt ?? now;
    if (!Number.isFinite(startsAt)) throw invalidOption('silence.startsAt', 'must be a time in ms');
    let endsAt = input.endsAt;
    if (endsAt === undefined) {
      if (input.duration === undefined) throw invalidOption('silence.endsAt', 'give endsAt or duration');
      endsAt = startsAt + parseDuration(input.duration, 'silence.duration');
    }
    if (!Number.isFinite(endsAt) || endsAt <= startsAt) throw invalidOption('silence.endsAt', 'must be after startsAt');
    for (const [id, s] of this.silenceList) if (s.endsAt <= now) this.silenceList.delete(id);
    if (this.silenceList.size >= MAX_SILENCES) throw invalidOption('silence', `at most ${MAX_SILENCES} silences`);
    const silence: Silence = {
      id: randomUUID(),
      matchers: { ...matchers },
      startsAt,
      endsAt,
      createdBy: input.createdBy ?? 'unknown',
      comment: input.comment ?? '',
    };
    this.silenceList.set(silence.id, silence);
    return { ...silence };
  }

  /** Ends a silence now. @throws MonitoringError `E_MONITORING_NOT_FOUND` */
  expireSilence(id: string): void {
    const s = this.silenceList.get(id);
    if (s === undefined) throw new MonitoringError('E_MONITORING_NOT_FOUND', `no silence ${id}`);
    this.silenceList.delete(id);
  }

  /** Silences not yet expired. */
  silences(): Silence[] {
    const now = this.cfg.clock.now();
    return [...this.silenceList.values()]
      .filter((s) => s.endsAt > now)
      .map((s) => ({ ...s, matchers: { ...s.matchers } }));
  }

  /**
   * Acknowledges an active alert: escalation stops (notifications continue). Returns the alert.
   * @throws MonitoringError `E_MONITORING_NOT_FOUND` if no active alert has this id.
   */
  ack(id: string, options: { by?: string; comment?: string } = {}): Alert {
    const st = this.alerts.get(id);
    if (st === undefined) throw new MonitoringError('E_MONITORING_NOT_FOUND', `no active alert ${id}`);
    st.alert.acknowledged = {
      by: options.by ?? 'unknown',
      at: this.cfg.clock.now(),
      ...(options.comment ? { comment: options.comment } : {}),
    };
    for (const t of st.escalationTimers.splice(0)) this.cfg.clock.clearTimeout(t);
    this.record('acknowledged', st.alert, { message: `by ${st.alert.acknowledged.by}` });
    return copyAlert(st.alert);
  }

  /** Counts for `Monitoring.stats()`: alerts by state, groups, silences, history length, queue lengths. */
  stats(): {
    pending: number;
    firing: number;
    groups: number;
    silences: number;
    history: number;
    rules: number;
    queues: Record<string, number>;
    hookListenerErrors: number;
  } {
    let firing = 0;
    for (const st of this.alerts.values()) if (st.alert.state === 'firing') firing++;
    const queues: Record<string, number> = {};
    for (const [name, q] of this.queues) queues[name] = q.length;
    return {
      pending: this.alerts.size - firing,
      firing,
      groups: this.groups.size,
      silences: this.silences().length,
      history: this.events.length,
      rules: this.evaluators.length,
      queues,
      hookListenerErrors: this.alertHook.listenerErrors + this.notificationHook.listenerErrors,
    };
  }

  /** @internal Notifiers that gave up on a notification within the last `windowMs`. */
  failingNotifiers(windowMs: number): string[] {
    const now = this.cfg.clock.now();
    return [...this.gaveUpAt].filter(([, t]) => now - t < windowMs).map(([n]) => n);
  }

  /**
   * @internal Stops timers, drains the queues for up to `drainTimeoutMs`, then aborts what is still
   * in flight or waiting to retry, and closes the notifiers within what is left of `drainTimeoutMs`.
   */
  async close(drainTimeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const deadline = Date.now() + drainTimeoutMs;
    this.cfg.clock.clearTimeout(this.evalTimer);
    for (const g of this.groups.values()) this.cfg.clock.clearTimeout(g.timer);
    for (const st of this.alerts.values())
      for (const t of st.escalationTimers.splice(0)) this.cfg.clock.clearTimeout(t);
    await Promise.all([...this.queues.values()].map((q) => q.drain(drainTimeoutMs)));
    for (const q of this.queues.values()) q.close();
    const closes = Promise.all(
      [...this.cfg.notifiers.values()].map(async ({ notifier }) => {
        try {
          await notifier.close?.();
        } catch {
          // Closing is best effort.
        }
      }),
    );
    // A notifier whose close() hangs (a stuck SMTP pool) must not hold Monitoring.close() past its timeout.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    });
    await Promise.race([closes, timeout]);
    clearTimeout(timer);
  }
}
