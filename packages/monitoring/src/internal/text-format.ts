/** Escapes a label value for the Prometheus text format (backslash, newline, double quote). */
export function escapeLabelValue(value: string): string {
  if (!/[\\\n"]/.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Escapes HELP text (backslash, newline). */
export function escapeHelp(help: string): string {
  if (!/[\\\n]/.test(help)) return help;
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as the text format writes it. */
export function formatValue(value: number): string {
  if (Number.isFinite(value)) return `${value}`;
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}

/** `a="x",b="y"` for parallel name and value arrays (no braces). */
export function labelPairs(names: readonly string[], values: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += ',';
    out += `${names[i]}="${escapeLabelValue(values[i] ?? '')}"`;
  }
  return out;
}

/** `a="x",b="y"` for a label object, skipping names already in `skip`. */
export function labelObjectPairs(labels: Record<string, unknown>, skip?: Record<string, unknown>): string {
  let out = '';
  for (const name in labels) {
    if (skip !== undefined && Object.hasOwn(skip, name)) continue;
    const v = labels[name];
    if (v === undefined) continue;
    if (out !== '') out += ',';
    out += `${name}="${escapeLabelValue(String(v))}"`;
  }
  return out;
}

/** Joins label pair strings into `{...}` (or `''` when all are empty). */
export function braces(...parts: string[]): string {
  let out = '';
  for (const p of parts) {
    if (p === '') continue;
    out = out === '' ? p : `${out},${p}`;
  }
  return out === '' ? '' : `{${out}}`;
}

/** Valid Prometheus metric name. */
export const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Valid Prometheus label name. */
export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Turns an arbitrary key path into a metric-name fragment: camelCase to snake_case, other characters to `_`. */
export function toSnake(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^a-zA-Z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '')
    .toLowerCase();
}
