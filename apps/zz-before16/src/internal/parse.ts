import { TraderError } from '../errors.js';
import type { Level } from '../model/types.js';

/** Throws the adapters' malformed-frame error. */
export function malformed(venue: string, what: string): never {
  throw new TraderError('E_TRADER_MALFORMED', `${venue}: malformed frame: ${what}`);
}

/** A decimal string (or number) to a finite number. */
export function toNum(venue: string, v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.length > 0 ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) malformed(venue, `${what} is not a number`);
  return n;
}

/** `[["price","qty"], ...]` to levels. */
export function toLevels(venue: string, v: unknown, what: string): Level[] {
  if (!Array.isArray(v)) malformed(venue, `${what} is not an array`);
  const out: Level[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const l = v[i] as unknown;
    if (!Array.isArray(l) || l.length < 2) malformed(venue, `${what}[${i}] is not a level`);
    const qty = toNum(venue, l[1], `${what}[${i}] qty`);
    if (qty < 0) malformed(venue, `${what}[${i}] qty is negative`);
    out[i] = [toNum(venue, l[0], `${what}[${i}] price`), qty];
  }
  return out;
}

/** An object or a malformed-frame error. */
export function asObject(venue: string, v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) malformed(venue, `${what} is not an object`);
  return v as Record<string, unknown>;
}
