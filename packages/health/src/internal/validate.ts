import { HealthError, HealthErrorCode } from '../errors.js';

const invalid = (field: string, message: string): HealthError =>
  new HealthError(HealthErrorCode.INVALID_OPTION, `invalid option ${field}: ${message}`, { field });

/** Throws unless `value` is undefined or a plain object. */
export function checkObject(value: unknown, field: string): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, 'must be an object');
}

/** Throws unless `value` is undefined or a finite number in [min, max]. */
export function checkNumber(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(field, `must be a number between ${min} and ${max}, got ${describe(value)}`);
  }
}

/** Throws unless `value` is undefined or an integer in [min, max]. */
export function checkInteger(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer between ${min} and ${max}, got ${describe(value)}`);
  }
}

/** Throws unless `value` is undefined or a non-empty string (max 200 chars). */
export function checkString(value: unknown, field: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw invalid(field, `must be a non-empty string of at most 200 characters, got ${describe(value)}`);
  }
}

/** Throws unless `value` is undefined or a boolean. */
export function checkBoolean(value: unknown, field: string): void {
  if (value === undefined) return;
  if (typeof value !== 'boolean') throw invalid(field, `must be a boolean, got ${describe(value)}`);
}

/** Throws unless `value` is undefined or a function. */
export function checkFunction(value: unknown, field: string): void {
  if (value === undefined) return;
  if (typeof value !== 'function') throw invalid(field, `must be a function, got ${describe(value)}`);
}

/** Throws unless every key of `options` is in `known`, naming the first unknown one. */
export function checkKnownKeys(options: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw invalid(prefix + key, 'unknown option');
  }
}

/** Throws the typed error for a custom rule. */
export function invalidOption(field: string, message: string): HealthError {
  return invalid(field, message);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  return typeof value;
}
