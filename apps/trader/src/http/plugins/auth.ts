import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { bearerToken } from '../auth.js';
import { clientAddressKey } from '../client-address.js';
import { ApiError } from '../errors.js';
import { roleAtLeast } from '../roles.js';
import { scrapeTokenMatcher } from '../scrape-token.js';
import type { Principal, Role } from '../types.js';
import type { Authenticate, PluginOptions } from './context.js';

/**
 * Authentication and roles. Every route whose `config.access` is a role gets a route-level `onRequest` hook, after the
 * per-IP limit: bearer token (401 `E_API_UNAUTHORIZED` with `WWW-Authenticate: Bearer`), then the per-token limit
 * (429), then the role (403 `E_API_FORBIDDEN`); the verified caller is `request.principal`. Tokens are JWTs checked by
 * the {@link TokenVerifier} (a verified token is remembered until it expires, so a polling client pays one signature
 * check). Audited: the first use of a token on this instance (`auth.login`), every refused token (`auth.failure`, at
 * most one row per IP and reason per 10 s), and every 403 (the route's action, or `auth.forbidden`).
 * `app.authenticate` is the same check for the stream upgrades. Routes with `config.scrape` (`/metrics`) also take the
 * scrape token `metricsToken`, compared in constant time (digests of equal length), with no principal.
 * A token with a session (`sid`, a person's login) is checked against the shared revocation list on every request,
 * never from a cache, so a logout takes effect at once on every gateway.
 */
async function auth(app: FastifyInstance, { verifier, counters, options }: PluginOptions): Promise<void> {
  const failures = new AuthFailureThrottle();
  const isScrapeToken = options.metricsToken === undefined ? () => false : scrapeTokenMatcher(options.metricsToken);
  // Sessions are set up by `auth-routes`, registered after this plugin; without them a session token cannot be checked.
  const sessionActive = async (sid: string): Promise<void> => {
    if (!app.hasDecorator('sessions')) throw new ApiError('E_API_UNAUTHORIZED', 'sessions are not enabled');
    await app.sessions.assertActive(sid);
  };

  const authenticate = async (
    token: string | undefined,
    ip: string,
    requestId: string,
    what: string,
    known?: unknown,
  ): Promise<Principal> => {
    try {
      if (known !== undefined) throw known;
      let principal = verifier.verifyCached(token);
      if (principal === undefined) {
        principal = await verifier.verify(token);
        // First use of a token on this instance: the API's "login" (tokens are issued elsewhere).
        void app.audit.append({
          actor: principal.sub,
          role: principal.role,
          action: 'auth.login',
          outcome: 'success',
          requestId,
          ip,
          detail: { tokenId: principal.tokenId, expires: new Date(principal.exp * 1000).toISOString(), target: what },
        });
      }
      if (principal.sid !== undefined) await sessionActive(principal.sid);
      return principal;
    } catch (e) {
      counters.unauthorized++;
      const reason = (e as Error).message;
      const suppressed = failures.admit(`${clientAddressKey(ip)}|${reason}`);
      if (suppressed !== undefined)
        void app.audit.append({
          actor: 'anonymous',
          action: 'auth.failure',
          outcome: 'denied',
          requestId,
          ip,
          detail: { reason, target: what, suppressedSinceLast: suppressed },
        });
      throw e;
    }
  };

  const forbid = (req: FastifyRequest, principal: Principal, need: Role, path: string): never => {
    counters.forbidden++;
    void app.audit.append({
      actor: principal.sub,
      role: principal.role,
      action: req.routeOptions.config.def?.audit ?? 'auth.forbidden',
      outcome: 'denied',
      requestId: req.id,
      ip: req.ip,
      detail: { target: `${req.method} ${path}`, required: need },
    });
    throw new ApiError('E_API_FORBIDDEN', `role ${need} required; the token has role ${principal.role}`);
  };

  type Done = (error?: Error) => void;
  const finish = (
    req: FastifyRequest,
    reply: FastifyReply,
    done: Done,
    principal: Principal,
    wait: number | undefined,
  ) => {
    if (wait !== undefined) return done(app.rateLimits.tokenRefusal(reply, wait));
    const need = req.routeOptions.config.access as Role;
    if (roleAtLeast(principal.role, need)) return done();
    try {
      forbid(req, principal, need, pathOf(req.url));
    } catch (e) {
      done(e as Error);
    }
  };
  const admit = (req: FastifyRequest, reply: FastifyReply, done: Done, principal: Principal): void => {
    req.principal = principal;
    const wait = app.rateLimits.token(principal.tokenId);
    if (wait instanceof Promise) wait.then((w) => finish(req, reply, done, principal, w), done);
    else finish(req, reply, done, principal, wait);
  };
  const slow = (req: FastifyRequest, reply: FastifyReply, done: Done, token: string | undefined, known?: unknown) => {
    authenticate(token, req.ip, req.id, `${req.method} ${pathOf(req.url)}`, known).then(
      (principal) => admit(req, reply, done, principal),
      done,
    );
  };
  /**
   * The route hook. Callback style, no closure per request: with a remembered token and the in-memory limiter it
   * completes synchronously (no promise); a first-seen token (signature check) or the Redis limiter go async.
   */
  const check = (req: FastifyRequest, reply: FastifyReply, done: Done): void => {
    const token = bearerToken(req.headers.authorization);
    if (req.routeOptions.config.scrape === true && isScrapeToken(token)) {
      done();
      return;
    }
    let cached: Principal | undefined;
    try {
      cached = verifier.verifyCached(token);
    } catch (e) {
      // Missing token, or a remembered one that expired: audited and refused.
      slow(req, reply, done, token, e);
      return;
    }
    // A person's token (with a session) is checked against the shared revocation list on every request.
    if (cached === undefined || cached.sid !== undefined) slow(req, reply, done, token);
    else admit(req, reply, done, cached);
  };

  app.decorateRequest('principal', null);
  app.decorate('authenticate', authenticate satisfies Authenticate);
  app.decorate('authCachedTokens', () => verifier.cachedTokens);
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (access === undefined || access === 'public') return;
    const hooks = route.onRequest;
    route.onRequest = [
      ...(hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]),
      check as onRequestHookHandler,
    ];
  });
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Writes at most one `auth.failure` row per (client, reason) per 10 s (IPv6 by its /64), so a client hammering with a bad token
 * cannot flood the audit table; the next row carries the number suppressed meanwhile.
 */
class AuthFailureThrottle {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  /** Returns the number suppressed since the last admitted row, or `undefined` to suppress this one. */
  admit(key: string): number | undefined {
    const now = Date.now();
    const e = this.#last.get(key);
    if (e !== undefined && now - e.at < 10_000) {
      e.suppressed++;
      return undefined;
    }
    if (this.#last.size > 10_000) this.#last.clear();
    this.#last.set(key, { at: now, suppressed: 0 });
    return e?.suppressed ?? 0;
  }
}

export default fp(auth, { name: 'trader-auth', fastify: '5.x', dependencies: ['trader-audit', 'trader-rate-limit'] });
