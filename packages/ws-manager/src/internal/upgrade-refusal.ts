import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AuthRejection } from '../types.js';

/** An upgrade refusal, validated and ready to write. */
export interface UpgradeRefusal {
  /** HTTP status, 400-599. */
  readonly status: number;
  /** Extra header lines, each `Name: value\r\n`, already validated. */
  readonly headerLines: string;
  /** Response body (`text/plain`), empty for none. */
  readonly body: string;
}

/** HTTP token (RFC 9110 `token`): the only characters allowed in a header name. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Anything but tab, visible ASCII, space and obs-text (RFC 9110 `field-value`): no CR/LF response splitting. */
const INVALID_VALUE = /[^\t\u0020-\u007e\u0080-\u00ff]/;
/** Headers the hub writes itself. */
const RESERVED = new Set(['connection', 'content-length', 'content-type', 'transfer-encoding']);

/** The refusal every plain `false` (or throw) from `authenticate` gets. */
export const UNAUTHORIZED: UpgradeRefusal = { status: 401, headerLines: '', body: '' };

/** `true` for an object with `ok: false`, i.e. an {@link AuthRejection} rather than a principal. */
export function isAuthRejection(value: unknown): value is AuthRejection {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

/** Validates an {@link AuthRejection}: a bad `status` becomes 401, bad or reserved headers are left out. */
export function toUpgradeRefusal(rejection: AuthRejection): UpgradeRefusal {
  const raw = rejection.status;
  const status = typeof raw === 'number' && Number.isInteger(raw) && raw >= 400 && raw <= 599 ? raw : 401;
  let headerLines = '';
  const headers = rejection.headers;
  if (typeof headers === 'object' && headers !== null) {
    for (const [name, value] of Object.entries(headers)) {
      if (!TOKEN.test(name) || RESERVED.has(name.toLowerCase())) continue;
      if (typeof value !== 'string' && typeof value !== 'number') continue;
      const text = String(value);
      if (INVALID_VALUE.test(text)) continue;
      headerLines += `${name}: ${text}\r\n`;
    }
  }
  const body = typeof rejection.reason === 'string' ? rejection.reason : '';
  return { status, headerLines, body };
}

/** The status line's reason phrase. */
export function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** Answers an upgrade request with an HTTP error and closes the socket once the response is flushed (as `ws` does). */
export function writeUpgradeRefusal(socket: Duplex, refusal: UpgradeRefusal): void {
  const body = Buffer.from(refusal.body, 'utf8');
  const type = body.length > 0 ? 'Content-Type: text/plain; charset=utf-8\r\n' : '';
  socket.once('finish', () => socket.destroy());
  socket.end(
    Buffer.concat([
      Buffer.from(
        `HTTP/1.1 ${refusal.status} ${statusText(refusal.status)}\r\nConnection: close\r\n${refusal.headerLines}` +
          `${type}Content-Length: ${body.length}\r\n\r\n`,
        'latin1',
      ),
      body,
    ]),
  );
}
