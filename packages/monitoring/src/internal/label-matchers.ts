import { invalidOption } from '../errors.js';
import type { LabelMatchers } from '../types.js';

/** True if every matcher matches `labels` (a missing label is the empty string). */
export function matches(matchers: LabelMatchers | undefined, labels: Record<string, string>): boolean {
  if (matchers === undefined) return true;
  for (const name in matchers) {
    const m = matchers[name];
    const v = labels[name] ?? '';
    if (typeof m === 'string') {
      if (v !== m) return false;
    } else if (m instanceof RegExp) {
      m.lastIndex = 0;
      const r = m.exec(v);
      if (r === null || r.index !== 0 || r[0].length !== v.length) return false;
    }
  }
  return true;
}

/** Validates a matcher object, naming `field` on error. */
export function validateMatchers(value: unknown, field: string, required = false): LabelMatchers | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(field, 'must be an object of label name to string or RegExp');
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && !(v instanceof RegExp))
      throw invalidOption(`${field}.${k}`, 'must be a string or RegExp');
  }
  return value as LabelMatchers;
}
