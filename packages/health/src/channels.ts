import type { ChannelName } from '@cryptoscalp/contracts';

/**
 * Tracing channel of one check run. Context: `{ component, operation: 'check', check, kind, critical }`;
 * `status` and `timedOut` are set on the context before the end event.
 */
export const HEALTH_CHECK_CHANNEL = 'cryptoscalp:health:check' satisfies ChannelName;
/** Plain channel: a check's status changed. Payload `{ component, check, kind, from, to }` (`from` is `unknown` at first). */
export const HEALTH_STATUS_CHANNEL = 'cryptoscalp:health:status' satisfies ChannelName;
/** Plain channel: the shutdown phase changed. Payload `{ component, phase, reason }`. */
export const HEALTH_SHUTDOWN_CHANNEL = 'cryptoscalp:health:shutdown' satisfies ChannelName;
