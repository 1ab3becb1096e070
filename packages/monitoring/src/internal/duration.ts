import { invalidOption } from '../errors.js';
import type { Duration } from '../types.js';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a {@link Duration} into milliseconds, throwing an invalid-option error naming `field`. */
export function parseDuration(value: Duration | undefined, field: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw invalidOption(field, 'is required');
    return fallback;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw invalidOption(field, 'must be a finite number of ms >= 0');
    return value;
  }
  if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
    if (m) return Number(m[1]) * (UNITS[m[2] as string] as number);
  }
  throw invalidOption(field, `must be ms or a string like '30s', '5m', got ${JSON.stringify(value)}`);
}
