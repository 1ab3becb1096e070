import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Cluster, Redis } from 'ioredis';
import { ApiError } from '../errors.js';
import { issueToken } from '../tokens.js';
import type { AuthOptions, Principal, Role } from '../types.js';
import { resolveSessionOptions, type SessionOptions } from '../users/options.js';
import { postgresRevocationList, redisRevocationList } from '../users/revocation.js';
import { SessionService } from '../users/sessions.js';
import { createUser } from '../users/users.js';
import type { PluginOptions } from './context.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** People's sessions (plugin `auth-routes`, with the `sessions` option). */
    sessions: SessionService;
  }
}

/** Slack added to a revocation key's life beyond the access token lifetime (the verifier's clock tolerance is 5 s). */
const REVOCATION_SLACK_SEC = 60;

/**
 * People login, with the `sessions` option: `POST /api/auth/login`, `/api/auth/refresh` (public: the body is the
 * credential), `POST /api/auth/logout` (any role, a session's access token) and `POST /api/users` (admin). Access
 * tokens are the API's JWTs with a `sid` claim, signed with `auth.secret` (or `sessions.privateKey`); the `auth`
 * plugin checks that session against the revocation list on every request. Without `sessions` nothing is registered.
 */
async function authRoutes(
  app: FastifyInstance,
  {
    auditLog,
    verifier,
    sessions,
    auth,
    redis,
  }: PluginOptions & { sessions?: SessionOptions; auth: AuthOptions; redis?: Redis | Cluster },
): Promise<void> {
  if (sessions === undefined) return;
  const o = resolveSessionOptions(sessions);
  if (o.privateKey === undefined && auth.secret === undefined)
    throw new ApiError('E_API_INVALID_OPTION', 'sessions.privateKey is required when auth verifies with a public key', {
      field: 'sessions.privateKey',
    });
  // Signed as the verifier expects: same key pair or secret, same issuer and audience.
  const key = {
    ...(o.privateKey === undefined ? { secret: auth.secret } : { privateKey: o.privateKey }),
    ...(auth.issuer === undefined ? {} : { issuer: auth.issuer }),
    ...(auth.audience === undefined ? {} : { audience: auth.audience }),
  };
  const schema = auditLog.schema;
  const revocationTtl = o.accessTtlSec + REVOCATION_SLACK_SEC;
  const service = new SessionService({
    pool: auditLog.pool,
    schema,
    options: o,
    audit: auditLog,
    sign: ({ sub, role, sid, ttlSec }) =>
      issueToken({ sub, role, sid, ttl: ttlSec, maxTtlSec: verifier.maxLifetimeSec, ...key }),
    revocations:
      redis === undefined
        ? postgresRevocationList(auditLog.pool, `"${schema}".sessions`)
        : redisRevocationList(redis, o.revokedKeyPrefix, revocationTtl),
  });
  // Like the audit table: wait a little for the tables, never fail the start (PostgreSQL may be down); every
  // operation retries the DDL until it has succeeded.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    service.ready().catch(() => {}),
    new Promise((r) => {
      timer = setTimeout(r, 2_000);
    }),
  ]);
  clearTimeout(timer);
  app.decorate('sessions', service);

  const at = (req: FastifyRequest) => ({ requestId: req.id, ip: req.ip });
  const body = (properties: Record<string, object>) => ({
    type: 'object',
    additionalProperties: false,
    required: Object.keys(properties),
    properties,
  });
  const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength });

  app.post(
    '/api/auth/login',
    { schema: { body: body({ username: text(64), password: text(1024), totp: text(16) }) } },
    async (req) => {
      const b = req.body as { username: string; password: string; totp: string };
      return await service.login(b.username, b.password, b.totp, at(req));
    },
  );
  app.post('/api/auth/refresh', { schema: { body: body({ refreshToken: text(128) }) } }, async (req) => {
    return await service.refresh((req.body as { refreshToken: string }).refreshToken, at(req));
  });
  app.post('/api/auth/logout', { config: { access: 'viewer' } }, async (req, reply) => {
    const p = req.principal as Principal;
    if (p.sid === undefined)
      throw new ApiError('E_API_BAD_REQUEST', 'a service token has no session to end', { field: 'authorization' });
    await service.logout(p.sid, p, at(req));
    reply.code(204);
    return null;
  });
  app.post(
    '/api/users',
    {
      config: { access: 'admin' },
      schema: {
        body: body({
          username: text(64),
          role: { type: 'string', enum: ['viewer', 'trader', 'admin'] },
          password: text(1024),
        }),
      },
    },
    async (req, reply) => {
      const p = req.principal as Principal;
      const b = req.body as { username: string; role: Role; password: string };
      const base = { actor: p.sub, role: p.role, action: 'user.create', requestId: req.id, ip: req.ip };
      try {
        await service.ready();
        const created = await createUser(auditLog.pool, schema, b, o.totpIssuer, 'body.');
        await auditLog.append({ ...base, outcome: 'success', detail: { username: b.username, newRole: b.role } });
        reply.code(201);
        return created;
      } catch (e) {
        await auditLog.append({
          ...base,
          outcome: 'failure',
          detail: { username: b.username, newRole: b.role, error: (e as Error).message },
        });
        throw e;
      }
    },
  );
}

export default fp(authRoutes, {
  name: 'trader-auth-routes',
  fastify: '5.x',
  dependencies: ['trader-audit', 'trader-auth'],
});
