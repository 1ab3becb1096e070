import type { ManagedConnection } from '@cryptoscalp/ws-manager';
import type { DataClientCounters, DataClientHealth } from '../model/data-client.js';

/** A data client's health from its connection: pass when open, warn while (re)connecting, fail when closed. */
export function connectionHealth(connection: ManagedConnection, counters: DataClientCounters): DataClientHealth {
  const state = connection.state;
  const status = state === 'open' ? 'pass' : state === 'closed' ? 'fail' : 'warn';
  return {
    status,
    output: `${connection.exchange} connection ${state}${connection.endpoint ? ` (${connection.endpoint})` : ''}`,
    details: { ...counters },
  };
}
