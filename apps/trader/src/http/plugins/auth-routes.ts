import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Cluster, Redis } from 'ioredis';
import { Keyring } from '../../security/keyring.js';
import { startRotationWorker } from '../../security/rotation-worker.js';
import { ApiError } from '../errors.js';
import { errorSchema, type JsonSchema } from '../schemas.js';
import { issueToken } from '../tokens.js';
import type { AuthOptions, Principal, Role } from '../types.js';
import { resolveSessionOptions, type SessionOptions } from '../users/options.js';
import { postgresRevocationList, redisRevocationList } from '../users/revocation.js';
import { type SecondFactor, SessionService } from '../users/sessions.js';
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
 * credential), `POST /api/auth/logout` (any role, a session's access token), `POST /api/users` and
 * `POST /api/users/{username}/mfa/reset` (admin). Access tokens are the API's JWTs with a `sid` claim, signed with
 * `auth.secret` (or `sessions.privateKey`); the `auth` plugin checks that session against the revocation list on every
 * request. TOTP secrets are sealed by a {@link Keyring} under `sessions.kek`, whose re-encryption after a rotation runs
 * in the background here. Every route carries its body and response schemas (they feed the OpenAPI document). Without
 * `sessions` nothing is registered.
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
  const keyring = new Keyring({
    pool: auditLog.pool,
    schema,
    kek: o.kek,
    ...(o.previousKeks === undefined ? {} : { previousKeks: o.previousKeks }),
  });
  const service = new SessionService({
    pool: auditLog.pool,
    schema,
    options: o,
    audit: auditLog,
    keyring,
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
  if (o.rotationCheckMs > 0) {
    const worker = startRotationWorker({
      keyring,
      pool: auditLog.pool,
      intervalMs: o.rotationCheckMs,
      audit: (entry) => auditLog.append(entry),
      onError: (e) =>
        auditLog.log(
          `trader: key re-encryption failed (retried at the next interval): ${e instanceof Error ? e.message : String(e)}`,
          'error',
        ),
    });
    app.addHook('onClose', () => worker.close());
  }

  const at = (req: FastifyRequest) => ({ requestId: req.id, ip: req.ip });
  // Bodies are JSON: no coercion and no silent removal of unknown fields (a 400 names them), like the API's routes.
  const ajv = new Ajv({ removeAdditional: false, useDefaults: false, coerceTypes: false, allErrors: false });
  const validatorCompiler = ({ schema }: { schema: object }) => ajv.compile(schema);

  app.post(
    '/api/auth/login',
    {
      validatorCompiler,
      schema: {
        summary: 'Log in with username, password and a TOTP code (or a one-time recovery code)',
        tags: ['auth'],
        body: LOGIN_BODY,
        response: { 200: TOKEN_PAIR, 400: errorSchema, 401: errorSchema },
      },
    },
    async (req) => {
      const b = req.body as { username: string; password: string; totp?: string; recoveryCode?: string };
      const second: SecondFactor =
        b.recoveryCode !== undefined ? { recoveryCode: b.recoveryCode } : { totp: b.totp as string };
      return await service.login(b.username, b.password, second, at(req));
    },
  );
  app.post(
    '/api/auth/refresh',
    {
      validatorCompiler,
      schema: {
        summary: 'Rotate the token pair; a rotated refresh token presented again revokes its session',
        tags: ['auth'],
        body: object({ refreshToken: text(128) }),
        response: { 200: TOKEN_PAIR, 400: errorSchema, 401: errorSchema },
      },
    },
    async (req) => {
      return await service.refresh((req.body as { refreshToken: string }).refreshToken, at(req));
    },
  );
  app.post(
    '/api/auth/logout',
    {
      config: { access: 'viewer' },
      schema: {
        summary: "End the caller's session: its access token is refused at once on every gateway",
        tags: ['auth'],
        response: { 204: { type: 'null', description: 'Session ended' }, 400: errorSchema, 401: errorSchema },
      },
    },
    async (req, reply) => {
      const p = req.principal as Principal;
      if (p.sid === undefined)
        throw new ApiError('E_API_BAD_REQUEST', 'a service token has no session to end', { field: 'authorization' });
      await service.logout(p.sid, p, at(req));
      reply.code(204);
      return null;
    },
  );
  app.post(
    '/api/users',
    {
      config: { access: 'admin' },
      validatorCompiler,
      schema: {
        summary: 'Create a user; the otpauth:// URI and the recovery codes are returned once',
        tags: ['users'],
        body: object({
          username: text(64),
          role: { type: 'string', enum: ['viewer', 'trader', 'admin'] },
          password: text(1024),
        }),
        response: {
          201: ENROLMENT_WITH_ROLE,
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          409: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const p = req.principal as Principal;
      const b = req.body as { username: string; role: Role; password: string };
      const base = { actor: p.sub, role: p.role, action: 'user.create', requestId: req.id, ip: req.ip };
      try {
        await service.ready();
        const created = await createUser(auditLog.pool, schema, keyring, b, o.totpIssuer, 'body.');
        await auditLog.append({
          ...base,
          outcome: 'success',
          detail: { username: b.username, newRole: b.role, recoveryCodes: created.recoveryCodes.length },
        });
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
  app.post(
    '/api/users/:username/mfa/reset',
    {
      config: { access: 'admin' },
      validatorCompiler,
      schema: {
        summary:
          "Reset a user's MFA (lost authenticator): new TOTP secret and recovery codes, returned once; the user's sessions are revoked",
        tags: ['users'],
        params: object({ username: text(64) }),
        response: {
          200: {
            ...ENROLMENT,
            required: [...(ENROLMENT.required as string[]), 'sessionsRevoked'],
            properties: { ...(ENROLMENT.properties as object), sessionsRevoked: { type: 'integer', minimum: 0 } },
          },
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (req) => {
      const p = req.principal as Principal;
      return await service.resetMfa((req.params as { username: string }).username, p, at(req));
    },
  );
}

function object(properties: Record<string, object>): JsonSchema {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties), properties };
}

function text(maxLength: number): JsonSchema {
  return { type: 'string', minLength: 1, maxLength };
}

/** `POST /api/auth/login`: a TOTP code or a recovery code, exactly one. */
const LOGIN_BODY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: {
    username: text(64),
    password: text(1024),
    totp: { ...text(16), description: 'The 6-digit code of the authenticator app' },
    recoveryCode: { ...text(32), description: 'One of the one-time recovery codes (`abcd-efgh-ijkl-mnop`)' },
  },
  oneOf: [{ required: ['totp'] }, { required: ['recoveryCode'] }],
};

const TOKEN_PAIR: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['accessToken', 'refreshToken', 'expiresIn'],
  properties: {
    accessToken: { type: 'string', description: 'JWT with a `sid` claim; send as `Authorization: Bearer`' },
    refreshToken: { type: 'string', description: 'Opaque, single use: `POST /api/auth/refresh` rotates it' },
    expiresIn: { type: 'integer', minimum: 1, description: 'Seconds until the access token expires' },
  },
};

const ENROLMENT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'otpauthUri', 'recoveryCodes'],
  properties: {
    username: { type: 'string' },
    otpauthUri: { type: 'string', description: 'Scan into an authenticator app; shown once' },
    recoveryCodes: {
      type: 'array',
      items: { type: 'string' },
      description: 'One-time codes that replace a TOTP code at login; shown once, stored hashed',
    },
  },
};

const ENROLMENT_WITH_ROLE: JsonSchema = {
  ...ENROLMENT,
  required: [...(ENROLMENT.required as string[]), 'role'],
  properties: {
    ...(ENROLMENT.properties as object),
    role: { type: 'string', enum: ['viewer', 'trader', 'admin'] },
  },
};

export default fp(authRoutes, {
  name: 'trader-auth-routes',
  fastify: '5.x',
  dependencies: ['trader-audit', 'trader-auth'],
});
