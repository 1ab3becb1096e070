import { randomBytes } from 'node:crypto';

/**
 * A name that no other test (in this or another process) uses: for Redis key
 * prefixes, PostgreSQL schema names, topics. Lowercase letters, digits and `_`,
 * so it is a valid unquoted SQL identifier.
 */
export function uniqueName(label = 't'): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return `${clean}_${process.pid.toString(36)}_${randomBytes(4).toString('hex')}`;
}
