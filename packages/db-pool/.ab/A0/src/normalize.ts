/**
 * Normalizes a SQL statement for statistics: string and numeric literals and `$n`
 * parameters become `?`, `IN (...)` lists collapse to `IN (...)`, whitespace and case of
 * keywords are not touched except runs of whitespace collapse to one space.
 *
 * `select * from t where id = 42 and name = 'x'` -> `select * from t where id = ? and name = ?`
 */
export function normalizeStatement(sql: string): string {
  let out = sql
    // comments
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    // dollar-quoted strings
    .replace(/\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g, '?')
    // string literals (with '' escapes), optionally E'' / B'' / X''
    .replace(/(?:\b[EeBbXxNn])?'(?:[^']|'')*'/g, '?')
    // parameters
    .replace(/\$\d+/g, '?')
    // numbers not part of identifiers
    .replace(/(?<![A-Za-z0-9_."])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b/g, '?')
    // whitespace
    .replace(/\s+/g, ' ')
    .trim();
  // IN (?, ?, ?) -> IN (...)
  out = out.replace(/\b(in)\s*\(\s*\?(?:\s*,\s*\?)*\s*\)/gi, '$1 (...)');
  // VALUES (?, ?), (?, ?) -> VALUES (...)
  out = out.replace(/\b(values)\s*\(\s*\?(?:\s*,\s*\?)*\s*\)(?:\s*,\s*\(\s*\?(?:\s*,\s*\?)*\s*\))*/gi, '$1 (...)');
  // = ANY(?) stays as is
  return out;
}
