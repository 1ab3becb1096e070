import { randomBytes } from 'node:crypto';
import { KEY_ID, open, parseCiphertext, seal } from './envelope.js';
import { isKeyringError, KeyringError } from './errors.js';
import { KEY_BYTES, type KeyEncryptionKey } from './kek.js';
import { checkSchema, keyringDdl } from './keyring-ddl.js';

/** What the keyring needs of a database client (a `pg.Pool` fits). */
export interface KeyringQueryable {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Options of {@link Keyring}. Unknown keys are refused. */
export interface KeyringOptions {
  /** The trader's PostgreSQL. */
  pool: KeyringQueryable;
  /** Schema of the keyring tables (the trader's schema). */
  schema: string;
  /** The key-encryption key that wraps new data keys and unwraps existing ones. */
  kek: KeyEncryptionKey;
  /**
   * KEKs that may have wrapped existing data keys (a KEK being replaced): they unwrap, never wrap; `trader keys
   * rewrap` wraps every data key with `kek` again. @default []
   */
  previousKeks?: readonly KeyEncryptionKey[];
}

/** A sealed value and the id of the data key that sealed it (stored in the field's `<field>_key` column). */
export interface SealedValue {
  ciphertext: string;
  keyId: string;
}

/** A data key as {@link Keyring.status} lists it (never its material). */
export interface DataKeyInfo {
  id: string;
  state: 'active' | 'retiring' | 'retired';
  kekId: string;
  createdAt: string;
  /** When the key stopped encrypting (`retiring`) or was deleted (`retired`). */
  since: string | null;
}

/** The latest rotation as {@link Keyring.status} shows it. */
export interface RotationInfo {
  id: string;
  newKey: string;
  previousKeys: string[];
  actor: string;
  startedAt: string;
  reencrypted: number;
  unreadable: number;
  finishedAt: string | null;
}

/** What `trader keys status` prints. */
export interface KeyringStatus {
  kekId: string;
  keys: DataKeyInfo[];
  /** Values per data key id, over every encrypted field. */
  valuesByKey: Record<string, number>;
  lastRotation: RotationInfo | null;
}

interface KeyRow {
  id: string;
  kek_id: string;
  wrapped: string;
  state: 'active' | 'retiring';
}

const KNOWN_OPTIONS = new Set(['pool', 'schema', 'kek', 'previousKeks']);

/**
 * Envelope encryption at rest: values are sealed with AES-256-GCM under a data key; data keys are stored in
 * PostgreSQL (`data_keys`) wrapped by the key-encryption key; every ciphertext names its data key
 * (`cs1:<keyId>:<payload>`, see `seal`). One data key is active (new values); {@link rotate} makes a new one active and
 * turns the others `retiring`, and the re-encryption (`reencryptAll`) moves every value to the active key and then
 * retires (deletes) the old ones.
 *
 * Unwrapped data keys are kept in memory by id; the active key's id is read from the database at every
 * {@link encrypt}, so every process encrypts with the key a rotation made active, at once.
 */
export class Keyring {
  readonly #pool: KeyringQueryable;
  readonly #schema: string;
  readonly #s: string;
  readonly #kek: KeyEncryptionKey;
  readonly #previous: readonly KeyEncryptionKey[];
  readonly #keys = new Map<string, Promise<Buffer>>();
  #tables: Promise<void> | undefined;

  /** @throws KeyringError `E_KEYRING_INVALID_OPTION` naming the bad option, unknown keys too. */
  constructor(options: KeyringOptions) {
    if (options === null || typeof options !== 'object')
      throw new KeyringError('E_KEYRING_INVALID_OPTION', 'options must be an object', { field: 'options' });
    for (const k of Object.keys(options))
      if (!KNOWN_OPTIONS.has(k))
        throw new KeyringError('E_KEYRING_INVALID_OPTION', `${k} is not a known option`, { field: k });
    if (typeof options.pool?.query !== 'function')
      throw new KeyringError('E_KEYRING_INVALID_OPTION', 'pool must have query()', { field: 'pool' });
    this.#s = checkSchema(options.schema);
    for (const [field, k] of [
      ['kek', options.kek] as const,
      ...(options.previousKeks ?? []).map((p, i) => [`previousKeks.${i}`, p] as const),
    ])
      if (
        k === null ||
        typeof k !== 'object' ||
        typeof k.id !== 'string' ||
        k.id === '' ||
        typeof k.wrap !== 'function' ||
        typeof k.unwrap !== 'function'
      )
        throw new KeyringError('E_KEYRING_INVALID_OPTION', `${field} must be a KeyEncryptionKey (id, wrap, unwrap)`, {
          field,
        });
    this.#pool = options.pool;
    this.#schema = options.schema;
    this.#kek = options.kek;
    this.#previous = options.previousKeks ?? [];
  }

  /** The schema of the keyring's tables. */
  get schema(): string {
    return this.#schema;
  }

  /** The id of this keyring's KEK. */
  get kekId(): string {
    return this.#kek.id;
  }

  /** Creates the tables if missing (retried by every operation until it has succeeded once). */
  ready(): Promise<void> {
    this.#tables ??= this.#pool.query(keyringDdl(this.#schema)).then(
      () => undefined,
      (e: unknown) => {
        this.#tables = undefined;
        throw e;
      },
    );
    return this.#tables;
  }

  /**
   * Seals `plaintext` under the active data key (created on first use), bound to `context` (see `fieldContext`).
   * Store both the ciphertext and `keyId`.
   */
  async encrypt(plaintext: string, context: string): Promise<SealedValue> {
    const { id, key } = await this.#active();
    return { ciphertext: seal(key, id, Buffer.from(plaintext, 'utf8'), context), keyId: id };
  }

  /**
   * Opens a value of {@link encrypt} with the data key its ciphertext names.
   * @throws KeyringError `E_KEYRING_FORMAT`, `E_KEYRING_UNKNOWN_KEY`, `E_KEYRING_KEK_MISMATCH` or
   * `E_KEYRING_DECRYPT` (wrong key, tampered, or another context).
   */
  async decrypt(ciphertext: string, context: string): Promise<string> {
    const parsed = parseCiphertext(ciphertext);
    return open(await this.#key(parsed.keyId), parsed, context).toString('utf8');
  }

  /** The active data key's id, creating the first data key when there is none. */
  async activeKeyId(): Promise<string> {
    return (await this.#active()).id;
  }

  /**
   * Adds a new data key and makes it the active one; the previously active key (and any still retiring) become
   * `retiring` until `reencryptAll` has moved their values. Recorded in `key_rotations` with `actor`.
   */
  async rotate(actor: string): Promise<{ keyId: string; retiring: string[]; rotationId: string }> {
    await this.ready();
    // Every live key must open with this KEK first: a rotation run with a wrong KEK would make a key nobody else
    // can unwrap the one that encrypts.
    const live = await this.#pool.query(`SELECT id, kek_id, wrapped, state FROM ${this.#s}.data_keys`);
    for (const row of live.rows as KeyRow[]) await this.#cached(row.id, row);
    const { id, wrapped } = await this.#newKey();
    const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
    // One statement (a DO block): the old key stops being active and the new one starts in the same transaction.
    await this.#pool.query(`DO $rotate$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('cryptoscalp.keyring.active'));
  INSERT INTO ${this.#s}.key_rotations (new_key, previous_keys, actor)
    SELECT ${lit(id)}, coalesce(array_agg(id ORDER BY created_at), '{}'), ${lit(actor)} FROM ${this.#s}.data_keys;
  UPDATE ${this.#s}.data_keys SET state = 'retiring', retiring_since = now() WHERE state = 'active';
  INSERT INTO ${this.#s}.data_keys (id, kek_id, wrapped, state) VALUES (${lit(id)}, ${lit(this.#kek.id)}, ${lit(wrapped)}, 'active');
END
$rotate$`);
    const { rows } = await this.#pool.query(
      `SELECT id::text, previous_keys FROM ${this.#s}.key_rotations WHERE new_key = $1`,
      [id],
    );
    const r = rows[0] as { id: string; previous_keys: string[] };
    return { keyId: id, retiring: r.previous_keys, rotationId: r.id };
  }

  /**
   * Wraps every data key with this keyring's KEK (after a KEK change: the old KEK given in `previousKeks`).
   * @returns the ids of the keys rewrapped.
   */
  async rewrap(): Promise<string[]> {
    await this.ready();
    const { rows } = await this.#pool.query(
      `SELECT id, kek_id, wrapped, state FROM ${this.#s}.data_keys WHERE kek_id <> $1 ORDER BY created_at`,
      [this.#kek.id],
    );
    const done: string[] = [];
    for (const row of rows as KeyRow[]) {
      const key = await this.#unwrap(row);
      const wrapped = Buffer.from(await this.#kek.wrap(key, row.id)).toString('base64');
      const r = await this.#pool.query(
        `UPDATE ${this.#s}.data_keys SET kek_id = $2, wrapped = $3 WHERE id = $1 AND kek_id = $4 RETURNING 1`,
        [row.id, this.#kek.id, wrapped, row.kek_id],
      );
      if (r.rows.length === 1) done.push(row.id);
    }
    return done;
  }

  /** Keys, value counts per key and the latest rotation. */
  async status(fields: readonly { table: string; field: string }[]): Promise<KeyringStatus> {
    await this.ready();
    const live = await this.#pool.query(
      `SELECT id, state, kek_id, created_at::text AS created_at, retiring_since::text AS since
         FROM ${this.#s}.data_keys ORDER BY created_at`,
    );
    const retired = await this.#pool.query(
      `SELECT id, kek_id, created_at::text AS created_at, retired_at::text AS since
         FROM ${this.#s}.retired_data_keys ORDER BY retired_at`,
    );
    const keys: DataKeyInfo[] = [
      ...(retired.rows as { id: string; kek_id: string; created_at: string; since: string }[]).map((r) => ({
        id: r.id,
        state: 'retired' as const,
        kekId: r.kek_id,
        createdAt: r.created_at,
        since: r.since,
      })),
      ...(
        live.rows as {
          id: string;
          state: 'active' | 'retiring';
          kek_id: string;
          created_at: string;
          since: string | null;
        }[]
      ).map((r) => ({ id: r.id, state: r.state, kekId: r.kek_id, createdAt: r.created_at, since: r.since })),
    ];
    const valuesByKey: Record<string, number> = {};
    for (const f of fields) {
      const exists = await this.#pool.query('SELECT to_regclass($1) IS NOT NULL AS ok', [`${this.#s}.${f.table}`]);
      if ((exists.rows[0] as { ok: boolean }).ok !== true) continue;
      const { rows } = await this.#pool.query(
        `SELECT ${f.field}_key AS id, count(*)::int AS n FROM ${this.#s}.${f.table} WHERE ${f.field}_key IS NOT NULL GROUP BY 1`,
      );
      for (const r of rows as { id: string; n: number }[]) valuesByKey[r.id] = (valuesByKey[r.id] ?? 0) + r.n;
    }
    const rot = await this.#pool.query(
      `SELECT id::text, new_key, previous_keys, actor, started_at::text AS started_at, reencrypted::int AS reencrypted,
              unreadable::int AS unreadable, finished_at::text AS finished_at
         FROM ${this.#s}.key_rotations ORDER BY id DESC LIMIT 1`,
    );
    const r = rot.rows[0] as
      | {
          id: string;
          new_key: string;
          previous_keys: string[];
          actor: string;
          started_at: string;
          reencrypted: number;
          unreadable: number;
          finished_at: string | null;
        }
      | undefined;
    return {
      kekId: this.#kek.id,
      keys,
      valuesByKey,
      lastRotation:
        r === undefined
          ? null
          : {
              id: r.id,
              newKey: r.new_key,
              previousKeys: r.previous_keys,
              actor: r.actor,
              startedAt: r.started_at,
              reencrypted: r.reencrypted,
              unreadable: r.unreadable,
              finishedAt: r.finished_at,
            },
    };
  }

  async #active(): Promise<{ id: string; key: Buffer }> {
    await this.ready();
    for (let attempt = 0; attempt < 3; attempt++) {
      const { rows } = await this.#pool.query(
        `SELECT id, kek_id, wrapped, state FROM ${this.#s}.data_keys WHERE state = 'active'`,
      );
      const row = rows[0] as KeyRow | undefined;
      if (row !== undefined) return { id: row.id, key: await this.#cached(row.id, row) };
      // The first key: inserted unless another process got there first (one active key, by the unique index).
      const { id, wrapped } = await this.#newKey();
      await this.#pool.query(
        `INSERT INTO ${this.#s}.data_keys (id, kek_id, wrapped, state) VALUES ($1, $2, $3, 'active') ON CONFLICT DO NOTHING`,
        [id, this.#kek.id, wrapped],
      );
    }
    throw new KeyringError('E_KEYRING_UNKNOWN_KEY', 'no active data key could be created');
  }

  async #newKey(): Promise<{ id: string; wrapped: string }> {
    const id = `dk_${randomBytes(8).toString('hex')}`;
    const key = randomBytes(KEY_BYTES);
    const wrapped = Buffer.from(await this.#kek.wrap(key, id)).toString('base64');
    return { id, wrapped };
  }

  #key(id: string): Promise<Buffer> {
    return this.#cached(id);
  }

  #cached(id: string, row?: KeyRow): Promise<Buffer> {
    let p = this.#keys.get(id);
    if (p === undefined) {
      p = this.#load(id, row);
      this.#keys.set(id, p);
      // A failure is not cached: the key may appear (another process's rotation) or the database come back.
      p.catch(() => this.#keys.delete(id));
    }
    return p;
  }

  async #load(id: string, row?: KeyRow): Promise<Buffer> {
    if (!KEY_ID.test(id)) throw new KeyringError('E_KEYRING_FORMAT', 'not a data key id');
    let r = row;
    if (r === undefined) {
      await this.ready();
      const { rows } = await this.#pool.query(
        `SELECT id, kek_id, wrapped, state FROM ${this.#s}.data_keys WHERE id = $1`,
        [id],
      );
      r = rows[0] as KeyRow | undefined;
    }
    if (r === undefined) throw new KeyringError('E_KEYRING_UNKNOWN_KEY', `data key ${id} is not in the keyring`);
    return this.#unwrap(r);
  }

  async #unwrap(row: KeyRow): Promise<Buffer> {
    const kek = [this.#kek, ...this.#previous].find((k) => k.id === row.kek_id);
    if (kek === undefined)
      throw new KeyringError(
        'E_KEYRING_KEK_MISMATCH',
        `data key ${row.id} is wrapped by KEK ${row.kek_id}, this process holds ${this.#kek.id}: set the KEK that wrapped it (TRADER_KEK_FILE)`,
        { field: 'kek' },
      );
    try {
      const key = Buffer.from(await kek.unwrap(Buffer.from(row.wrapped, 'base64'), row.id));
      if (key.length !== KEY_BYTES) throw new Error(`unwrapped ${key.length} bytes`);
      return key;
    } catch (cause) {
      if (isKeyringError(cause)) throw cause;
      throw new KeyringError('E_KEYRING_DECRYPT', `KEK ${kek.id} cannot unwrap data key ${row.id}`, { cause });
    }
  }
}
