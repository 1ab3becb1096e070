import type { Alert, Notification } from '../types.js';

/** `[FIRING:2] HighLatency (critical)` */
export function notificationTitle(n: Notification): string {
  const firing = n.alerts.filter((a) => a.state === 'firing').length;
  const name = n.commonLabels.alertname ?? n.groupLabels.alertname ?? n.alerts[0]?.name ?? 'alert';
  const severity = n.commonLabels.severity;
  const head = n.status === 'firing' ? `[FIRING:${firing}]` : '[RESOLVED]';
  const esc = n.escalationLevel > 0 ? ` [ESCALATION ${n.escalationLevel}]` : '';
  return `${head}${esc} ${name}${severity ? ` (${severity})` : ''}`;
}

function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .filter(([k]) => k !== 'alertname')
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** One line per alert. */
export function alertLine(a: Alert): string {
  const summary = a.annotations.summary ?? a.annotations.description;
  return `- ${a.state.toUpperCase()} ${a.name} {${labelsText(a.labels)}} value=${a.value}${summary ? ` — ${summary}` : ''}`;
}

/** Plain-text body of a notification. */
export function notificationText(n: Notification): string {
  const lines = [notificationTitle(n), `source: ${n.source}`, ''];
  for (const a of n.alerts) lines.push(alertLine(a));
  return lines.join('\n');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** HTML body of a notification (for email). */
export function notificationHtml(n: Notification): string {
  const rows = n.alerts
    .map(
      (a) =>
        `<tr><td>${escapeHtml(a.state)}</td><td>${escapeHtml(a.name)}</td><td>${escapeHtml(labelsText(a.labels))}</td><td>${escapeHtml(String(a.value))}</td><td>${escapeHtml(a.annotations.summary ?? '')}</td></tr>`,
    )
    .join('');
  return `<h2>${escapeHtml(notificationTitle(n))}</h2><p>source: ${escapeHtml(n.source)}</p><table><tr><th>state</th><th>alert</th><th>labels</th><th>value</th><th>summary</th></tr>${rows}</table>`;
}

/** The JSON body the webhook notifier posts (Alertmanager-like). */
export function notificationPayload(n: Notification): Record<string, unknown> {
  return {
    version: '1',
    id: n.id,
    status: n.status,
    source: n.source,
    groupKey: n.groupKey,
    groupLabels: n.groupLabels,
    commonLabels: n.commonLabels,
    escalationLevel: n.escalationLevel,
    timestamp: new Date(n.timestamp).toISOString(),
    alerts: n.alerts.map((a) => ({
      id: a.id,
      status: a.state,
      labels: a.labels,
      annotations: a.annotations,
      severity: a.severity,
      value: a.value,
      startsAt: new Date(a.activeAt).toISOString(),
      ...(a.resolvedAt === undefined ? {} : { endsAt: new Date(a.resolvedAt).toISOString() }),
      ...(a.acknowledged ? { acknowledged: a.acknowledged } : {}),
    })),
  };
}
