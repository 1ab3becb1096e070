import { ApiError } from '../errors.js';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The DDL of the people-login tables in `schema` (idempotent, serialised by a transaction-scoped advisory lock so
 * several gateways may run it at once):
 *
 * - `users`: argon2id hash, TOTP secret encrypted at rest (`totp_secret_enc`, sealed by the keyring's data key
 *   `totp_secret_key`; needs the keyring's tables, `keyringDdl`), enrolment flag, the last accepted TOTP time step (a
 *   code is accepted once), failures and lockout. A table from before encryption keeps its `totp_secret_plain` column
 *   until `SessionService.ready()` has encrypted its rows and dropped it;
 * - `recovery_codes`: one-time MFA recovery codes, argon2id hashes, looked up by their first group (`code_id`);
 * - `sessions`: one per login, the refresh-token family; `last_seen_at` drives the idle expiry, `expires_at` the
 *   absolute one, `revoked_at` logout, reuse detection and expiry;
 * - `refresh_tokens`: SHA-256 of each opaque refresh token of a session; `used_at` is set when it was rotated.
 */
export function usersDdl(schema: string): string {
  if (!IDENT.test(schema))
    throw new ApiError('E_API_INVALID_OPTION', 'schema must be a lowercase SQL identifier', { field: 'schema' });
  const s = `"${schema}"`;
  return `DO $users$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('cryptoscalp.users'));
  CREATE SCHEMA IF NOT EXISTS ${s};
  CREATE TABLE IF NOT EXISTS ${s}.users (
    username text PRIMARY KEY,
    role text NOT NULL CHECK (role IN ('viewer', 'trader', 'admin')),
    password_hash text NOT NULL,
    totp_secret_enc text,
    totp_secret_key text REFERENCES ${s}.data_keys (id),
    totp_enrolled boolean NOT NULL DEFAULT false,
    totp_last_step bigint NOT NULL DEFAULT 0,
    failed_attempts integer NOT NULL DEFAULT 0,
    first_failure_at timestamptz,
    locked_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  -- Tables from before encryption at rest: the encrypted columns join, the plaintext one is emptied and dropped by
  -- the migration in SessionService.ready().
  ALTER TABLE ${s}.users ADD COLUMN IF NOT EXISTS totp_secret_enc text;
  ALTER TABLE ${s}.users ADD COLUMN IF NOT EXISTS totp_secret_key text REFERENCES ${s}.data_keys (id);
  IF EXISTS (SELECT 1 FROM information_schema.columns
              WHERE table_schema = '${schema}' AND table_name = 'users' AND column_name = 'totp_secret_plain') THEN
    ALTER TABLE ${s}.users ALTER COLUMN totp_secret_plain DROP NOT NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint
                  WHERE conname = 'users_totp_secret_sealed' AND conrelid = '${s}.users'::regclass) THEN
    ALTER TABLE ${s}.users ADD CONSTRAINT users_totp_secret_sealed
      CHECK (totp_secret_enc IS NULL OR split_part(totp_secret_enc, ':', 2) = totp_secret_key);
  END IF;
  CREATE TABLE IF NOT EXISTS ${s}.recovery_codes (
    id bigserial PRIMARY KEY,
    username text NOT NULL REFERENCES ${s}.users (username) ON DELETE CASCADE,
    code_id text NOT NULL,
    code_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz
  );
  CREATE INDEX IF NOT EXISTS recovery_codes_lookup_idx ON ${s}.recovery_codes (username, code_id);
  CREATE TABLE IF NOT EXISTS ${s}.sessions (
    id uuid PRIMARY KEY,
    username text NOT NULL REFERENCES ${s}.users (username) ON DELETE CASCADE,
    role text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text
  );
  CREATE INDEX IF NOT EXISTS sessions_username_idx ON ${s}.sessions (username);
  CREATE TABLE IF NOT EXISTS ${s}.refresh_tokens (
    token_hash text PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES ${s}.sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz
  );
  CREATE INDEX IF NOT EXISTS refresh_tokens_session_idx ON ${s}.refresh_tokens (session_id);
END
$users$`;
}
