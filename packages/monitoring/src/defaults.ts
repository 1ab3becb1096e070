import { EWMA_DEFAULTS } from './ewma-detector.js';
import { ALERTING_DEFAULTS } from './internal/alerting-options.js';
import { MAD_DEFAULTS } from './mad-detector.js';
import { MONITORING_DEFAULTS } from './options.js';

/**
 * Every default of the package in one object, by the options type it belongs to (the convention of the suite:
 * each package's `defaults.ts` exports `DEFAULTS`). The separate constants are the same objects.
 */
export const DEFAULTS = {
  /** `MonitoringOptions`. */
  monitoring: MONITORING_DEFAULTS,
  /** `AlertingOptions` of `AlertManager`. */
  alerting: ALERTING_DEFAULTS,
  /** `EwmaDetector`. */
  ewma: EWMA_DEFAULTS,
  /** `MadDetector`. */
  mad: MAD_DEFAULTS,
} as const;
