import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { invalidOption } from './internal/validate.js';
import type { AuthorizeFunction, AuthorizeResult } from './types.js';

/**
 * An `authorize` hook accepting `Authorization: Bearer <token>` for any of the given tokens (constant-time compare).
 * No header: 401 with `WWW-Authenticate: Bearer`; a wrong token: 403. For JWTs, write your own hook around your
 * verifier.
 * @throws HealthError `E_HEALTH_INVALID_OPTION` (`tokens`) when no token of at least 16 characters is given.
 */
export function bearerAuthorize(tokens: string | readonly string[]): AuthorizeFunction {
  const list = typeof tokens === 'string' ? [tokens] : tokens;
  if (!Array.isArray(list) || list.length === 0 || list.some((t) => typeof t !== 'string' || t.length < 16)) {
    throw invalidOption('tokens', 'give one or more tokens of at least 16 characters');
  }
  const digests = list.map(digest);
  return (req: IncomingMessage): AuthorizeResult => {
    const header = req.headers.authorization;
    if (typeof header !== 'string' || !/^bearer /i.test(header)) return false;
    const offered = digest(header.slice(7).trim());
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, offered) || ok;
    return ok ? true : { status: 403 };
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
