import type { AlertsPort, AlertView } from './trader-port.js';

/** Alerts with live updates (see {@link alertsFromAlertManager}). */
export interface AlertsSource extends AlertsPort {
  /** Registers a listener for alert changes; returns the unsubscribe function. */
  subscribe?(listener: (alert: AlertView) => void): () => void;
}

/** The parts of `@cryptoscalp/monitoring`'s `AlertManager` used here, structurally. */
export interface AlertManagerLike {
  active(): readonly {
    id: string;
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    severity: string;
    state: string;
    activeAt: number;
    silencedBy: readonly string[];
    inhibited: boolean;
    acknowledged?: { by: string; at: number } | undefined;
  }[];
  silence(input: { matchers: Record<string, string>; duration: number; createdBy: string; comment: string }): {
    id: string;
    endsAt: number;
  };
  ack(id: string, options: { by?: string; comment?: string }): unknown;
  onEvent(listener: (event: { type: string; alertId: string }) => void): () => void;
}

const LIVE_TYPES = new Set(['pending', 'firing', 'resolved', 'acknowledged', 'silenced', 'inhibited']);

/**
 * Adapts `monitoring.alerts` (the `AlertManager`) to the API's alerts port: active alerts, silences (by
 * label matchers, for a duration), acknowledgements (`false` when the alert is not active), and live alert
 * changes for the `alerts` stream topic.
 */
export function alertsFromAlertManager(manager: AlertManagerLike): AlertsSource {
  const view = (a: ReturnType<AlertManagerLike['active']>[number]): AlertView => ({
    id: a.id,
    name: a.name,
    severity: a.severity,
    state: a.state,
    ...(a.annotations.summary !== undefined || a.annotations.description !== undefined
      ? { summary: a.annotations.summary ?? a.annotations.description }
      : {}),
    labels: a.labels,
    since: a.activeAt,
    acknowledged: a.acknowledged !== undefined,
    silenced: a.silencedBy.length > 0 || a.inhibited,
  });
  return {
    list: () => manager.active().map(view),
    silence(r) {
      const s = manager.silence({
        matchers: r.matchers,
        duration: r.durationMs,
        createdBy: r.createdBy,
        comment: r.comment,
      });
      return { id: s.id, endsAt: s.endsAt };
    },
    acknowledge(id, by) {
      if (!manager.active().some((a) => a.id === id)) return false;
      manager.ack(id, { by });
      return true;
    },
    subscribe(listener) {
      return manager.onEvent((e) => {
        if (!LIVE_TYPES.has(e.type)) return;
        const a = manager.active().find((x) => x.id === e.alertId);
        if (a !== undefined) listener(view(a));
        else if (e.type === 'resolved') listener({ id: e.alertId, name: '', severity: '', state: 'resolved' });
      });
    },
  };
}
