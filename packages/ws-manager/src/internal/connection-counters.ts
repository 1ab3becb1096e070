/** The counters a managed connection reports in `stats()`; its parts (connector, rotation, ...) bump their own. */
export interface ConnectionCounters {
  connects: number;
  connectFailures: number;
  reconnects: number;
  failovers: number;
  rotations: number;
  heartbeatTimeouts: number;
  framesIn: number;
  bytesIn: number;
  malformed: number;
  oversized: number;
  controlMessages: number;
  listenerErrors: number;
  subscribeMessagesSent: number;
  logins: number;
  loginFailures: number;
}

/** A zeroed counter set (the key order is the order `stats()` shows them in). */
export function newConnectionCounters(): ConnectionCounters {
  return {
    connects: 0,
    connectFailures: 0,
    reconnects: 0,
    failovers: 0,
    rotations: 0,
    heartbeatTimeouts: 0,
    framesIn: 0,
    bytesIn: 0,
    malformed: 0,
    oversized: 0,
    controlMessages: 0,
    listenerErrors: 0,
    subscribeMessagesSent: 0,
    logins: 0,
    loginFailures: 0,
  };
}
