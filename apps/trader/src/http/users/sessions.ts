import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Keyring } from '../../security/keyring.js';
import type { AuditLog } from '../audit-log.js';
import { ApiError } from '../errors.js';
import type { Queryable, Role } from '../types.js';
import { usersDdl } from './ddl.js';
import type { ResolvedSessionOptions } from './options.js';
import { verifyPassword } from './passwords.js';
import { useRecoveryCode } from './recovery-codes.js';
import type { RevocationList } from './revocation.js';
import { checkTotp } from './totp.js';
import { resetMfa, totpContext } from './users.js';

/** The pair a login or a refresh returns. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
}

/** Signs an access token for a session (the existing JWTs, with a `sid` claim). */
export type SignAccessToken = (claims: { sub: string; role: Role; sid: string; ttlSec: number }) => Promise<string>;

/** Where a request came from, for the audit rows. */
export interface RequestInfo {
  requestId: string;
  ip: string;
}

interface UserRow {
  username: string;
  role: Role;
  password_hash: string;
  totp_secret_enc: string | null;
  totp_enrolled: boolean;
  totp_last_step: string;
  locked: boolean;
}

/** The second factor of a login: a TOTP code, or one of the user's one-time recovery codes. */
export type SecondFactor = { totp: string; recoveryCode?: undefined } | { recoveryCode: string; totp?: undefined };

/** The one answer to every refused login, whatever was wrong: no user enumeration, no hint about the lockout. */
const LOGIN_REFUSED = 'invalid username, password or code';
const REFRESH_REFUSED = 'invalid or expired refresh token';

/**
 * People's sessions: password + TOTP login with lockout, rotating refresh tokens (a family per session; a rotated
 * token presented again revokes the session), idle and absolute expiry, logout, and the per-request session check.
 * State lives in PostgreSQL (tables of {@link usersDdl}); revocations also go to the shared {@link RevocationList}.
 * Every step writes an audit row (the reason of a refusal only there, never in the response).
 */
export class SessionService {
  readonly #pool: Queryable;
  readonly #schema: string;
  readonly #s: string;
  readonly #o: ResolvedSessionOptions;
  readonly #sign: SignAccessToken;
  readonly #revocations: RevocationList;
  readonly #audit: AuditLog;
  readonly #keyring: Keyring;

  constructor(deps: {
    pool: Queryable;
    schema: string;
    options: ResolvedSessionOptions;
    sign: SignAccessToken;
    revocations: RevocationList;
    audit: AuditLog;
    /** Seals and opens the TOTP secrets (encryption at rest). */
    keyring: Keyring;
  }) {
    this.#keyring = deps.keyring;
    this.#pool = deps.pool;
    this.#schema = deps.schema;
    this.#s = `"${deps.schema}"`;
    this.#o = deps.options;
    this.#sign = deps.sign;
    this.#revocations = deps.revocations;
    this.#audit = deps.audit;
  }

  #tables: Promise<void> | undefined;

  /** The keyring that seals the TOTP secrets. */
  get keyring(): Keyring {
    return this.#keyring;
  }

  /**
   * Creates the tables if missing (the keyring's first) and encrypts the TOTP secrets of a table from before
   * encryption at rest. Called at start without waiting long (PostgreSQL may be down then) and again by every
   * operation until it has succeeded once.
   */
  ready(): Promise<void> {
    this.#tables ??= (async () => {
      await this.#keyring.ready();
      await this.#pool.query(usersDdl(this.#schema));
      await migratePlainTotp(this.#pool, this.#schema, this.#keyring, this.#audit);
    })().catch((e: unknown) => {
      this.#tables = undefined;
      throw e;
    });
    return this.#tables;
  }

  /**
   * Password, then the second factor: a TOTP code not used before, or an unused recovery code (spent by this login).
   * The argon2 verification runs for unknown and locked users too, so the time taken says nothing. Failures within
   * `failureWindowSec` lock the user for `lockoutSec` at `maxFailures`.
   * @throws ApiError 401 `E_API_UNAUTHORIZED` with one message for every refusal (locked users included).
   */
  async login(username: string, password: string, second: SecondFactor, at: RequestInfo): Promise<TokenPair> {
    await this.ready();
    const { rows } = await this.#pool.query(
      `SELECT username, role, password_hash, totp_secret_enc, totp_enrolled, totp_last_step::text,
              coalesce(locked_until > now(), false) AS locked
         FROM ${this.#s}.users WHERE username = $1`,
      [username],
    );
    const user = rows[0] as UserRow | undefined;
    const passwordOk = await verifyPassword(user?.password_hash, password);
    let reason: string | undefined;
    let step: number | undefined;
    let recoveryCodesLeft: number | undefined;
    if (user === undefined) reason = 'unknown user';
    else if (user.locked) reason = 'locked';
    else if (!passwordOk) reason = 'wrong password';
    else if (second.recoveryCode !== undefined) {
      const r = await useRecoveryCode(this.#pool, this.#schema, username, second.recoveryCode);
      recoveryCodesLeft = r.left;
      if (!r.ok) reason = 'wrong or used recovery code';
    } else if (user.totp_secret_enc === null) reason = 'no TOTP secret';
    else {
      let secret: string | undefined;
      try {
        secret = await this.#keyring.decrypt(user.totp_secret_enc, totpContext(user.username));
      } catch (e) {
        // Logged in the audit row (the error names the key, never the secret); the user is refused like any other.
        reason = `TOTP secret cannot be decrypted: ${(e as Error).message}`;
      }
      step = secret === undefined ? undefined : await checkTotp(secret, second.totp, Number(user.totp_last_step));
      // Claimed atomically: of two logins with one code, only one moves the step forward.
      const claimed =
        step !== undefined &&
        (
          await this.#pool.query(
            `UPDATE ${this.#s}.users SET totp_last_step = $2, updated_at = now() WHERE username = $1 AND totp_last_step < $2 RETURNING 1`,
            [username, step],
          )
        ).rows.length === 1;
      if (!claimed) reason ??= step === undefined ? 'wrong or reused TOTP code' : 'TOTP code reused';
    }
    const base = { requestId: at.requestId, ip: at.ip };
    if (reason !== undefined || user === undefined) {
      const lockedNow = user !== undefined && reason !== 'locked' ? await this.#recordFailure(username) : false;
      await this.#audit.append({
        ...base,
        actor: user === undefined ? 'anonymous' : user.username,
        role: user?.role ?? null,
        action: 'session.login',
        outcome: 'denied',
        detail: { username, reason, ...(lockedNow ? { lockedForSec: this.#o.lockoutSec } : {}) },
      });
      throw new ApiError('E_API_UNAUTHORIZED', LOGIN_REFUSED);
    }
    await this.#pool.query(
      `UPDATE ${this.#s}.users SET failed_attempts = 0, first_failure_at = NULL, locked_until = NULL,
              totp_enrolled = totp_enrolled OR $2, updated_at = now() WHERE username = $1`,
      [username, recoveryCodesLeft === undefined],
    );
    const who = { ...base, actor: user.username, role: user.role };
    if (recoveryCodesLeft !== undefined)
      await this.#audit.append({
        ...who,
        action: 'user.mfa.recovery-code',
        outcome: 'success',
        detail: { recoveryCodesLeft },
      });
    else if (!user.totp_enrolled)
      await this.#audit.append({ ...who, action: 'user.mfa.enrol', outcome: 'success', detail: { method: 'totp' } });
    const sid = randomUUID();
    await this.#pool.query(
      `INSERT INTO ${this.#s}.sessions (id, username, role, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
      [sid, user.username, user.role, this.#o.absoluteTimeoutSec],
    );
    const pair = await this.#issue(sid, user.username, user.role, this.#o.absoluteTimeoutSec);
    await this.#audit.append({
      ...who,
      action: 'session.login',
      outcome: 'success',
      detail: { sid, mfa: recoveryCodesLeft === undefined ? 'totp' : 'recovery-code' },
    });
    return pair;
  }

  /**
   * Rotates the pair. A refresh token already rotated revokes its whole session (family) and all its access tokens;
   * an idle or expired session is revoked too.
   * @throws ApiError 401 for an unknown, reused or expired refresh token.
   */
  async refresh(refreshToken: string, at: RequestInfo): Promise<TokenPair> {
    await this.ready();
    const hash = digest(refreshToken);
    const used = await this.#pool.query(
      `UPDATE ${this.#s}.refresh_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL RETURNING session_id::text AS sid`,
      [hash],
    );
    const sid = (used.rows[0] as { sid: string } | undefined)?.sid;
    if (sid === undefined) {
      const { rows } = await this.#pool.query(
        `SELECT t.session_id::text AS sid, s.username, s.role FROM ${this.#s}.refresh_tokens t
           JOIN ${this.#s}.sessions s ON s.id = t.session_id WHERE t.token_hash = $1`,
        [hash],
      );
      const reused = rows[0] as { sid: string; username: string; role: Role } | undefined;
      if (reused === undefined) {
        await this.#audit.append({
          ...at,
          actor: 'anonymous',
          action: 'session.refresh',
          outcome: 'denied',
          detail: { reason: 'unknown refresh token' },
        });
      } else {
        await this.#audit.append({
          ...at,
          actor: reused.username,
          role: reused.role,
          action: 'session.reuse',
          outcome: 'denied',
          detail: { sid: reused.sid, reason: 'rotated refresh token presented again: session revoked' },
        });
        await this.revoke(reused.sid, 'refresh token reuse', at);
      }
      throw new ApiError('E_API_UNAUTHORIZED', REFRESH_REFUSED);
    }
    const { rows } = await this.#pool.query(
      `UPDATE ${this.#s}.sessions SET last_seen_at = now()
        WHERE id = $1 AND revoked_at IS NULL AND expires_at > now() AND last_seen_at > now() - make_interval(secs => $2)
        RETURNING username, role, extract(epoch FROM expires_at - now())::float8 AS remaining`,
      [sid, this.#o.idleTimeoutSec],
    );
    const session = rows[0] as { username: string; role: Role; remaining: number } | undefined;
    if (session === undefined) {
      const state = await this.#pool.query(
        `SELECT username, role, CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired'
                ELSE 'idle' END AS reason FROM ${this.#s}.sessions WHERE id = $1`,
        [sid],
      );
      const s = state.rows[0] as { username: string; role: Role; reason: string };
      await this.#audit.append({
        ...at,
        actor: s.username,
        role: s.role,
        action: 'session.refresh',
        outcome: 'denied',
        detail: { sid, reason: `session ${s.reason}` },
      });
      if (s.reason !== 'revoked') await this.revoke(sid, `session ${s.reason}`, at);
      throw new ApiError('E_API_UNAUTHORIZED', REFRESH_REFUSED);
    }
    const pair = await this.#issue(sid, session.username, session.role, Math.floor(session.remaining));
    await this.#audit.append({
      ...at,
      actor: session.username,
      role: session.role,
      action: 'session.refresh',
      outcome: 'success',
      detail: { sid },
    });
    return pair;
  }

  /** Ends the session of the caller's access token at once, on every gateway. */
  async logout(sid: string, actor: { sub: string; role: Role }, at: RequestInfo): Promise<void> {
    await this.#audit.append({
      ...at,
      actor: actor.sub,
      role: actor.role,
      action: 'session.logout',
      outcome: 'success',
      detail: { sid },
    });
    await this.revoke(sid, 'logout', at);
  }

  /** Revokes a session: its refresh tokens stop working and its access tokens are refused by every gateway. */
  async revoke(sid: string, reason: string, at: RequestInfo): Promise<void> {
    await this.ready();
    const { rows } = await this.#pool.query(
      `UPDATE ${this.#s}.sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING username, role`,
      [sid, reason],
    );
    await this.#revocations.revoke(sid);
    const s = rows[0] as { username: string; role: Role } | undefined;
    if (s !== undefined)
      await this.#audit.append({
        ...at,
        actor: s.username,
        role: s.role,
        action: 'session.revoke',
        outcome: 'success',
        detail: { sid, reason },
      });
  }

  /**
   * An administrator's reset of `username`'s MFA (see `resetMfa`): new TOTP secret and recovery codes, returned once;
   * every open session of the user is revoked. Audited (`user.mfa.reset`), refusals too.
   * @throws ApiError 404 for an unknown user.
   */
  async resetMfa(
    username: string,
    actor: { sub: string; role: Role },
    at: RequestInfo,
  ): Promise<{ username: string; otpauthUri: string; recoveryCodes: string[]; sessionsRevoked: number }> {
    await this.ready();
    const base = { ...at, actor: actor.sub, role: actor.role, action: 'user.mfa.reset' };
    let r: Awaited<ReturnType<typeof resetMfa>>;
    try {
      r = await resetMfa(this.#pool, this.#schema, this.#keyring, username, this.#o.totpIssuer, 'params.');
    } catch (e) {
      await this.#audit.append({ ...base, outcome: 'failure', detail: { username, error: (e as Error).message } });
      throw e;
    }
    for (const sid of r.sessions) await this.revoke(sid, 'mfa reset', at);
    await this.#audit.append({
      ...base,
      outcome: 'success',
      detail: { username, sessionsRevoked: r.sessions.length },
    });
    return { username, otpauthUri: r.otpauthUri, recoveryCodes: r.recoveryCodes, sessionsRevoked: r.sessions.length };
  }

  /** @throws ApiError 401 when the session was revoked (checked against the shared list on every call). */
  async assertActive(sid: string): Promise<void> {
    if (!UUID.test(sid) || (await this.#revocations.isRevoked(sid)))
      throw new ApiError('E_API_UNAUTHORIZED', 'session revoked');
  }

  async #issue(sid: string, sub: string, role: Role, remainingSec: number): Promise<TokenPair> {
    const refreshToken = randomBytes(32).toString('base64url');
    await this.#pool.query(`INSERT INTO ${this.#s}.refresh_tokens (token_hash, session_id) VALUES ($1, $2)`, [
      digest(refreshToken),
      sid,
    ]);
    // An access token never outlives its session.
    const ttlSec = Math.max(1, Math.min(this.#o.accessTtlSec, remainingSec));
    return { accessToken: await this.#sign({ sub, role, sid, ttlSec }), refreshToken, expiresIn: ttlSec };
  }

  /** Counts a failure (a new window once the last one is over); returns true when this one locked the user. */
  async #recordFailure(username: string): Promise<boolean> {
    const { rows } = await this.#pool.query(
      `WITH cur AS (
         SELECT CASE WHEN first_failure_at IS NULL OR first_failure_at <= now() - make_interval(secs => $2)
                     THEN 1 ELSE failed_attempts + 1 END AS n,
                CASE WHEN first_failure_at IS NULL OR first_failure_at <= now() - make_interval(secs => $2)
                     THEN now() ELSE first_failure_at END AS since
           FROM ${this.#s}.users WHERE username = $1 FOR UPDATE)
       UPDATE ${this.#s}.users u SET failed_attempts = cur.n, first_failure_at = cur.since, updated_at = now(),
              locked_until = CASE WHEN cur.n >= $3 THEN now() + make_interval(secs => $4) ELSE u.locked_until END
         FROM cur WHERE u.username = $1 RETURNING cur.n >= $3 AS locked`,
      [username, this.#o.failureWindowSec, this.#o.maxFailures, this.#o.lockoutSec],
    );
    const locked = (rows[0] as { locked: boolean } | undefined)?.locked === true;
    if (locked)
      await this.#pool.query(
        `UPDATE ${this.#s}.users SET failed_attempts = 0, first_failure_at = NULL WHERE username = $1`,
        [username],
      );
    return locked;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Encrypts the TOTP secrets of a `users` table from before encryption at rest (its `totp_secret_plain` column), then
 * drops that column once it is empty. Idempotent and safe to run from several gateways at once (each row is moved
 * by compare and set; the column is dropped under an advisory lock, only when no plaintext is left). Audited.
 */
export async function migratePlainTotp(
  pool: Queryable,
  schema: string,
  keyring: Keyring,
  audit?: Pick<AuditLog, 'append'>,
): Promise<number> {
  const s = `"${schema}"`;
  const has = await pool.query(
    `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users' AND column_name = 'totp_secret_plain'`,
    [schema],
  );
  if (has.rows.length === 0) return 0;
  const { rows } = await pool.query(
    `SELECT username, totp_secret_plain AS plain FROM ${s}.users WHERE totp_secret_plain IS NOT NULL`,
  );
  let moved = 0;
  for (const r of rows as { username: string; plain: string }[]) {
    const sealed = await keyring.encrypt(r.plain, totpContext(r.username));
    const u = await pool.query(
      `UPDATE ${s}.users SET totp_secret_enc = $2, totp_secret_key = $3, totp_secret_plain = NULL
        WHERE username = $1 AND totp_secret_plain = $4 RETURNING 1`,
      [r.username, sealed.ciphertext, sealed.keyId, r.plain],
    );
    moved += u.rows.length;
  }
  await pool.query(`DO $migrate$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('cryptoscalp.users'));
  IF EXISTS (SELECT 1 FROM information_schema.columns
              WHERE table_schema = '${schema}' AND table_name = 'users' AND column_name = 'totp_secret_plain')
     AND NOT EXISTS (SELECT 1 FROM ${s}.users WHERE totp_secret_plain IS NOT NULL) THEN
    ALTER TABLE ${s}.users DROP COLUMN totp_secret_plain;
  END IF;
END
$migrate$`);
  await audit?.append({
    actor: 'trader',
    action: 'key.migrate',
    outcome: 'success',
    detail: { table: 'users', field: 'totp_secret', encrypted: moved, plaintextColumnDropped: true },
  });
  return moved;
}
