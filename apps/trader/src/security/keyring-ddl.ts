import { KeyringError } from './errors.js';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** @throws KeyringError `E_KEYRING_INVALID_OPTION` naming `schema` unless it is a lowercase SQL identifier. */
export function checkSchema(schema: string): string {
  if (typeof schema !== 'string' || !IDENT.test(schema))
    throw new KeyringError('E_KEYRING_INVALID_OPTION', 'schema must be a lowercase SQL identifier', {
      field: 'schema',
    });
  return `"${schema}"`;
}

/**
 * The DDL of the keyring in `schema` (idempotent, under a transaction-scoped advisory lock):
 *
 * - `data_keys`: the live data keys, each wrapped by a KEK (`kek_id` names it); exactly one is `active` (it
 *   encrypts), the others are `retiring` (they still decrypt until every value is re-encrypted). Encrypted columns
 *   reference their key here, so a key still in use cannot be deleted.
 * - `retired_data_keys`: what is left of a retired key: its id and dates, no key material.
 * - `key_rotations`: one row per `trader keys rotate`: the new key, the keys it replaces, progress and end.
 * - `venue_credentials`: exchange API keys and secrets, encrypted (see `VenueCredentialStore`).
 */
export function keyringDdl(schema: string): string {
  const s = checkSchema(schema);
  return `DO $keyring$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('cryptoscalp.keyring'));
  CREATE SCHEMA IF NOT EXISTS ${s};
  CREATE TABLE IF NOT EXISTS ${s}.data_keys (
    id text PRIMARY KEY CHECK (id ~ '^dk_[0-9a-f]{16}$'),
    kek_id text NOT NULL,
    wrapped text NOT NULL,
    state text NOT NULL CHECK (state IN ('active', 'retiring')),
    created_at timestamptz NOT NULL DEFAULT now(),
    retiring_since timestamptz
  );
  CREATE UNIQUE INDEX IF NOT EXISTS data_keys_one_active ON ${s}.data_keys ((true)) WHERE state = 'active';
  CREATE TABLE IF NOT EXISTS ${s}.retired_data_keys (
    id text PRIMARY KEY,
    kek_id text NOT NULL,
    created_at timestamptz NOT NULL,
    retired_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS ${s}.key_rotations (
    id bigserial PRIMARY KEY,
    new_key text NOT NULL,
    previous_keys text[] NOT NULL,
    actor text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    reencrypted bigint NOT NULL DEFAULT 0,
    unreadable bigint NOT NULL DEFAULT 0,
    finished_at timestamptz
  );
  CREATE TABLE IF NOT EXISTS ${s}.venue_credentials (
    venue text NOT NULL CHECK (venue ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    account text NOT NULL CHECK (account ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    api_key_enc text NOT NULL,
    api_key_key text NOT NULL REFERENCES ${s}.data_keys (id),
    api_secret_enc text NOT NULL,
    api_secret_key text NOT NULL REFERENCES ${s}.data_keys (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, account),
    CHECK (split_part(api_key_enc, ':', 2) = api_key_key AND split_part(api_secret_enc, ':', 2) = api_secret_key)
  );
END
$keyring$`;
}
