const MAX_OUTPUT = 200;
// scheme://anything-without-whitespace : any URL-like connection string (redis://, postgres://, amqp://, https://u:p@...)
const URL_WITH_USERINFO = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/@]*@[^\s]*/gi;
const CONNECTION_URL =
  /\b(?:postgres(?:ql)?|redis|rediss|mysql|mariadb|mongodb(?:\+srv)?|amqps?|nats|mqtt|clickhouse):\/\/[^\s]*/gi;
const SECRET_PAIR =
  /\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)\s*[=:]\s*("[^"]*"|'[^']*'|[^\s,;&]+)/gi;
const BEARER = /\bBearer\s+[A-Za-z0-9._~+/=-]+/g;

/**
 * Makes a check's output safe to show: first line only (no stack traces), connection strings and URLs with
 * credentials replaced, `password=...`-style pairs and bearer tokens masked, at most 200 characters.
 */
export function sanitizeOutput(text: string): string {
  let line = text;
  const newline = line.search(/[\r\n]/);
  if (newline !== -1) line = line.slice(0, newline);
  line = line
    .replace(URL_WITH_USERINFO, '[redacted-url]')
    .replace(CONNECTION_URL, '[redacted-url]')
    .replace(BEARER, 'Bearer [redacted]')
    .replace(SECRET_PAIR, '$1=[redacted]')
    .trim();
  if (line.length > MAX_OUTPUT) line = `${line.slice(0, MAX_OUTPUT - 3)}...`;
  return line;
}

/** A short, sanitized description of a thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message || error.name;
    return sanitizeOutput(typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message);
  }
  if (typeof error === 'string') return sanitizeOutput(error);
  return 'check failed';
}
