import diagnostics from 'node:diagnostics_channel';
import type { CheckTraceContext } from '@cryptoscalp/contracts';
import { HEALTH_CHECK_CHANNEL, HEALTH_SHUTDOWN_CHANNEL, HEALTH_STATUS_CHANNEL } from '../channels.js';

/** Tracing channel of check runs. */
export const checkChannel = diagnostics.tracingChannel<object, CheckTraceContext>(HEALTH_CHECK_CHANNEL);
/** Status changes. */
export const statusChannel = diagnostics.channel(HEALTH_STATUS_CHANNEL);
/** Shutdown phase changes. */
export const shutdownChannel = diagnostics.channel(HEALTH_SHUTDOWN_CHANNEL);

export type { CheckTraceContext } from '@cryptoscalp/contracts';
