import { fieldContext } from './encrypted-fields.js';
import { KeyringError } from './errors.js';
import type { Keyring, KeyringQueryable } from './keyring.js';
import { checkSchema } from './keyring-ddl.js';

/** An exchange account's API credentials, decrypted. */
export interface VenueCredentials {
  apiKey: string;
  apiSecret: string;
}

/** A stored account, without its secrets. */
export interface VenueAccount {
  venue: string;
  account: string;
  /** The data key of its values (both are sealed with the same key unless a rotation is under way). */
  keyIds: string[];
  updatedAt: string;
}

const VENUE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const ACCOUNT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_SECRET = 4096;

/**
 * Seals one secret with the keyring, bound to `context` (use `fieldContext(table, field, keyValues)` for a column of
 * your own, so the value cannot be moved to another row): store `ciphertext` and `keyId` (in `<field>_enc` and
 * `<field>_key`, the latter a foreign key to `data_keys`, and add the field to `ENCRYPTED_FIELDS` so rotation
 * re-encrypts it).
 */
export function encryptSecret(keyring: Keyring, plaintext: string, context: string) {
  return keyring.encrypt(plaintext, context);
}

/** Opens a value of {@link encryptSecret}. @throws KeyringError for a wrong key, tampering or another context. */
export function decryptSecret(keyring: Keyring, ciphertext: string, context: string): Promise<string> {
  return keyring.decrypt(ciphertext, context);
}

/**
 * Exchange API keys and secrets in `venue_credentials`, both sealed by the keyring and bound to their venue and
 * account; re-encrypted by key rotation like every encrypted field. Values are never logged or returned by
 * {@link list}.
 *
 * ```ts
 * const store = new VenueCredentialStore({ keyring, pool });
 * await store.put('binance', 'main', { apiKey, apiSecret });
 * const { apiKey, apiSecret } = (await store.get('binance', 'main'))!;
 * ```
 */
export class VenueCredentialStore {
  readonly #keyring: Keyring;
  readonly #pool: KeyringQueryable;
  readonly #s: string;

  constructor(options: { keyring: Keyring; pool: KeyringQueryable }) {
    this.#keyring = options.keyring;
    this.#pool = options.pool;
    this.#s = checkSchema(options.keyring.schema);
  }

  /**
   * Stores (or replaces) an account's credentials.
   * @throws KeyringError `E_KEYRING_INVALID_OPTION` naming `venue`, `account`, `apiKey` or `apiSecret`.
   */
  async put(venue: string, account: string, credentials: VenueCredentials): Promise<void> {
    checkName(venue, account);
    for (const k of ['apiKey', 'apiSecret'] as const) {
      const v = credentials?.[k];
      if (typeof v !== 'string' || v === '' || v.length > MAX_SECRET)
        throw new KeyringError('E_KEYRING_INVALID_OPTION', `${k} must be a non-empty string of at most ${MAX_SECRET}`, {
          field: k,
        });
    }
    await this.#keyring.ready();
    // A rotation retiring the key between sealing and writing makes the foreign key refuse the row: seal again.
    for (let attempt = 0; ; attempt++) {
      const key = await this.#keyring.encrypt(
        credentials.apiKey,
        fieldContext('venue_credentials', 'api_key', [venue, account]),
      );
      const secret = await this.#keyring.encrypt(
        credentials.apiSecret,
        fieldContext('venue_credentials', 'api_secret', [venue, account]),
      );
      try {
        await this.#pool.query(
          `INSERT INTO ${this.#s}.venue_credentials (venue, account, api_key_enc, api_key_key, api_secret_enc, api_secret_key)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (venue, account) DO UPDATE SET api_key_enc = $3, api_key_key = $4, api_secret_enc = $5,
             api_secret_key = $6, updated_at = now()`,
          [venue, account, key.ciphertext, key.keyId, secret.ciphertext, secret.keyId],
        );
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== '23503' || attempt >= 2) throw e;
      }
    }
  }

  /** The account's credentials, decrypted, or `undefined` when none are stored. */
  async get(venue: string, account: string): Promise<VenueCredentials | undefined> {
    checkName(venue, account);
    await this.#keyring.ready();
    const { rows } = await this.#pool.query(
      `SELECT api_key_enc, api_secret_enc FROM ${this.#s}.venue_credentials WHERE venue = $1 AND account = $2`,
      [venue, account],
    );
    const r = rows[0] as { api_key_enc: string; api_secret_enc: string } | undefined;
    if (r === undefined) return undefined;
    return {
      apiKey: await this.#keyring.decrypt(
        r.api_key_enc,
        fieldContext('venue_credentials', 'api_key', [venue, account]),
      ),
      apiSecret: await this.#keyring.decrypt(
        r.api_secret_enc,
        fieldContext('venue_credentials', 'api_secret', [venue, account]),
      ),
    };
  }

  /** The stored accounts, without secrets. */
  async list(): Promise<VenueAccount[]> {
    await this.#keyring.ready();
    const { rows } = await this.#pool.query(
      `SELECT venue, account, ARRAY(SELECT DISTINCT unnest(ARRAY[api_key_key, api_secret_key])) AS key_ids,
              updated_at::text AS updated_at
         FROM ${this.#s}.venue_credentials ORDER BY venue, account`,
    );
    return (rows as { venue: string; account: string; key_ids: string[]; updated_at: string }[]).map((r) => ({
      venue: r.venue,
      account: r.account,
      keyIds: r.key_ids,
      updatedAt: r.updated_at,
    }));
  }

  /** Deletes an account's credentials; true when there were some. */
  async delete(venue: string, account: string): Promise<boolean> {
    checkName(venue, account);
    await this.#keyring.ready();
    const { rows } = await this.#pool.query(
      `DELETE FROM ${this.#s}.venue_credentials WHERE venue = $1 AND account = $2 RETURNING 1`,
      [venue, account],
    );
    return rows.length === 1;
  }
}

function checkName(venue: string, account: string): void {
  if (typeof venue !== 'string' || !VENUE.test(venue))
    throw new KeyringError('E_KEYRING_INVALID_OPTION', 'venue must be 1-32 of a-z, 0-9, "_", "-"', { field: 'venue' });
  if (typeof account !== 'string' || !ACCOUNT.test(account))
    throw new KeyringError('E_KEYRING_INVALID_OPTION', 'account must be 1-64 of letters, digits, ".", "_", "-"', {
      field: 'account',
    });
}
