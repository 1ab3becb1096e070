import { isMonitoringError } from '../errors.js';

/**
 * One line for an error and its `cause` chain, e.g. `fetch failed: connect ECONNREFUSED 127.0.0.1:9 (ECONNREFUSED)`,
 * so a give-up report names the reason instead of the outer error's class. Parts already
 * contained in the line are skipped; at most `depth` causes are followed.
 */
export function describeError(error: unknown, depth = 4): string {
  let line = '';
  let current: unknown = error;
  for (let i = 0; i <= depth && current !== undefined && current !== null; i++) {
    const message = current instanceof Error ? current.message || current.name : String(current);
    if (!line.includes(message)) line = line === '' ? message : `${line}: ${message}`;
    // Our own codes (E_MONITORING_*) add nothing to the message they come with; a system code (ECONNREFUSED) does.
    const code = isMonitoringError(current) ? undefined : (current as { code?: unknown }).code;
    if (typeof code === 'string' && !line.includes(code)) line += ` (${code})`;
    current = current instanceof Error ? current.cause : undefined;
  }
  return line;
}
