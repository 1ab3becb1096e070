/**
 * Making audit values storable: PostgreSQL refuses NUL in `text` and `jsonb`, and lone UTF-16 surrogates in `jsonb`
 * (`\u0000`, `\ud800` escapes). Such characters are replaced by their escape text (the six characters `\u0000`), so a
 * row always reaches the table and still shows what was sent.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what these look for.
const SUSPECT = /[\u0000\uD800-\uDFFF]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what these look for.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s` with NUL and lone surrogates replaced by their `\uXXXX` escape text; `s` itself when it has none. */
export function auditText(s: string): string {
  return SUSPECT.test(s) ? s.replace(UNSTORABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s;
}

/** `value` as JSON PostgreSQL's `jsonb` accepts: every string and key passed through {@link auditText}. */
export function auditJson(value: unknown): string {
  return JSON.stringify(value, function replacer(this: unknown, _key: string, v: unknown) {
    if (typeof v === 'string') return auditText(v);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    let out: Record<string, unknown> | undefined;
    for (const k of Object.keys(v)) {
      const clean = auditText(k);
      if (clean === k) continue;
      out ??= { ...(v as Record<string, unknown>) };
      delete out[k];
      out[clean] = (v as Record<string, unknown>)[k];
    }
    return out ?? v;
  });
}
