export { AlertManager } from './alert-manager.js';
export {
  BREAKER_CHANNELS,
  CACHE_BREAKER_CHANNEL,
  CACHE_OPERATION_CHANNEL,
  DB_BREAKER_CHANNEL,
  DB_FAILOVER_CHANNEL,
  DB_QUERY_CHANNEL,
  DB_SLOW_QUERY_CHANNEL,
  MONITORING_ALERT_CHANNEL,
  STATE_CHANNELS,
  TRACED_EVENT_CHANNELS,
  WS_GAP_CHANNEL,
  WS_HUB_CHANNEL,
  WS_MALFORMED_CHANNEL,
  WS_RESYNC_CHANNEL,
  WS_STATE_CHANNEL,
} from './channels.js';
export { ManualClock, systemClock } from './clock.js';
export { flattenStats, statsMetricName } from './component-stats.js';
export { DEFAULTS } from './defaults.js';
export {
  EmailNotifier,
  type EmailNotifierOptions,
  type MailTransporter,
  type SmtpTransportOptions,
} from './email-notifier.js';
export {
  isInvalidOptionError,
  isMonitoringError,
  MonitoringError,
  MonitoringErrorCode,
  type MonitoringErrorContext,
} from './errors.js';
export { EWMA_DEFAULTS, EwmaDetector } from './ewma-detector.js';
export { ALERTING_DEFAULTS } from './internal/alerting-options.js';
export {
  createLogger,
  DEFAULT_REDACT_PATHS,
  getCorrelationId,
  type LoggerFactoryOptions,
  withCorrelationId,
} from './logger.js';
export { MAD_DEFAULTS, MadDetector } from './mad-detector.js';
export { ModelMetrics, type ModelMetricsOptions } from './model-metrics.js';
export { Monitoring } from './monitoring.js';
export { MONITORING_DEFAULTS } from './options.js';
export { type SlackClientLike, SlackNotifier, type SlackNotifierOptions } from './slack-notifier.js';
export { type NetDevice, parseProcNetDev } from './system-metrics.js';
export { type BusinessMetricsOptions, type TradeRecord, TradingMetrics } from './trading-metrics.js';
export type * from './types.js';
export {
  signWebhook,
  verifyWebhookSignature,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  WebhookNotifier,
  type WebhookNotifierOptions,
} from './webhook-notifier.js';
