/** The Redis keys of one event log: named here so the log, its tools and the bench clean-up agree. */
export interface EventLogKeys {
  /** The stream, entry ids `<offset>-0`. */
  readonly log: string;
  /** The offset space's identity (SET NX). */
  readonly epoch: string;
  /** The snapshot hash: offset, json, epoch. */
  readonly snapshot: string;
  /** The leader epoch appends are fenced with (engine active/standby). */
  readonly fence: string;
}

/** The keys of the event log with key prefix `prefix`. */
export function eventLogKeys(prefix: string): EventLogKeys {
  return { log: `${prefix}:log`, epoch: `${prefix}:epoch`, snapshot: `${prefix}:snapshot`, fence: `${prefix}:fence` };
}
