/** Parses Prometheus text exposition into `series line key -> value` (comments dropped). */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    const key = normalizeKey(line.slice(0, i));
    const raw = line.slice(i + 1);
    out.set(
      key,
      raw === 'Nan' || raw === 'NaN'
        ? Number.NaN
        : raw === '+Inf'
          ? Number.POSITIVE_INFINITY
          : raw === '-Inf'
            ? Number.NEGATIVE_INFINITY
            : Number(raw),
    );
  }
  return out;
}

/** Sorts the labels of a series key so that label order does not matter. */
export function normalizeKey(key: string): string {
  const brace = key.indexOf('{');
  if (brace < 0) return key;
  const name = key.slice(0, brace);
  const body = key.slice(brace + 1, -1);
  const pairs = body.match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? [];
  return `${name}{${pairs.sort().join(',')}}`;
}

/** The value of one series, looked up by name and labels. */
export function sample(
  text: string | Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const map = typeof text === 'string' ? parseExposition(text) : text;
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const key = pairs.length === 0 ? name : normalizeKey(`${name}{${pairs.join(',')}}`);
  return map.get(key);
}
