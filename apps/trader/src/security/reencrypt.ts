import { ENCRYPTED_FIELDS, type EncryptedField, fieldContext } from './encrypted-fields.js';
import { KeyringError } from './errors.js';
import type { Keyring, KeyringQueryable } from './keyring.js';
import { checkSchema } from './keyring-ddl.js';

/** An audit row of the re-encryption (the shape of the trader's `AuditLog.append` entry). */
export interface KeyAuditEntry {
  actor: string;
  action: string;
  outcome: 'success' | 'failure';
  detail: Record<string, unknown>;
}

/** Options of {@link reencryptAll}. */
export interface ReencryptOptions {
  keyring: Keyring;
  pool: KeyringQueryable;
  /** Who runs it, for the audit rows (`cli`, `trader`). */
  actor: string;
  /** Writes an audit row (the trader's `AuditLog.append`). @default none */
  audit?: (entry: KeyAuditEntry) => Promise<unknown>;
  /** Values re-encrypted per batch. @default 100 */
  batchSize?: number;
  /** Pause between batches, so a large table does not hog the database. @default 0 */
  pauseMs?: number;
  /** Stops after the current batch; the work left is picked up by the next run. */
  signal?: AbortSignal;
  /** Called after every batch with the counts so far. */
  onProgress?: (p: ReencryptResult) => void;
  /** The fields to re-encrypt. @default ENCRYPTED_FIELDS */
  fields?: readonly EncryptedField[];
}

/** What {@link reencryptAll} did. */
export interface ReencryptResult {
  /** Values moved to the active key. */
  reencrypted: number;
  /** Values that could not be decrypted (tampered, or their key unwraps no more): they keep their key from retiring. */
  unreadable: number;
  /** Data keys retired (deleted) because no value uses them any more. */
  retired: string[];
  /** Data keys still retiring (values left, unreadable values, or stopped by `signal`). */
  remaining: string[];
}

/**
 * Moves every value sealed with a `retiring` data key to the active key, then retires the keys no value uses.
 * Resumable by construction: the work left is exactly the values whose `<field>_key` is retiring, so a run stopped
 * at any point (signal, crash, restart) is continued by the next run, in this process or another. Batches run
 * concurrently with writers: a value is replaced only if it is still the one read (compare and set), and a key is
 * deleted only if no row references it (the foreign keys refuse otherwise), so a value written with the old key
 * while the run was under way keeps that key alive until the next pass.
 */
export async function reencryptAll(options: ReencryptOptions): Promise<ReencryptResult> {
  const { keyring, pool, actor } = options;
  const batchSize = options.batchSize ?? 100;
  if (!Number.isSafeInteger(batchSize) || batchSize <= 0)
    throw new KeyringError('E_KEYRING_INVALID_OPTION', 'batchSize must be a positive integer', { field: 'batchSize' });
  const s = checkSchema(keyring.schema);
  const fields = options.fields ?? ENCRYPTED_FIELDS;
  const result: ReencryptResult = { reencrypted: 0, unreadable: 0, retired: [], remaining: [] };
  await keyring.ready();
  const retiring = async () =>
    (
      (await pool.query(`SELECT id FROM ${s}.data_keys WHERE state = 'retiring' ORDER BY created_at`)).rows as {
        id: string;
      }[]
    ).map((r) => r.id);
  if ((await retiring()).length === 0) return result;
  const rotationId = (
    (await pool.query(`SELECT id::text FROM ${s}.key_rotations WHERE finished_at IS NULL ORDER BY id DESC LIMIT 1`))
      .rows[0] as { id: string } | undefined
  )?.id;
  // Rows that failed to decrypt in this run, skipped from then on (per field, by their key values).
  const skipped = new Map<EncryptedField, Set<string>>();
  let pass = 0;
  for (;;) {
    let movedThisPass = 0;
    for (const f of fields) {
      const exists = await pool.query('SELECT to_regclass($1) IS NOT NULL AS ok', [`${s}.${f.table}`]);
      if ((exists.rows[0] as { ok: boolean }).ok !== true) continue;
      const skip = skipped.get(f) ?? new Set<string>();
      skipped.set(f, skip);
      for (;;) {
        if (options.signal?.aborted) return finish(true);
        const cols = f.key.map((k) => `"${k}"`).join(', ');
        const { rows } = await pool.query(
          `SELECT ${cols}, ${f.field}_enc AS enc FROM ${s}.${f.table}
            WHERE ${f.field}_key IN (SELECT id FROM ${s}.data_keys WHERE state = 'retiring')
            ORDER BY ${cols} LIMIT $1`,
          [batchSize + skip.size],
        );
        const batch = (rows as Record<string, string>[]).filter((r) => !skip.has(rowKey(f, r))).slice(0, batchSize);
        if (batch.length === 0) break;
        let moved = 0;
        for (const row of batch) {
          const keyValues = f.key.map((k) => row[k] as string);
          const context = fieldContext(f.table, f.field, keyValues);
          let plaintext: string;
          try {
            plaintext = await keyring.decrypt(row.enc as string, context);
          } catch (e) {
            skip.add(rowKey(f, row));
            result.unreadable++;
            await options.audit?.({
              actor,
              action: 'key.reencrypt',
              outcome: 'failure',
              detail: { table: f.table, field: f.field, row: keyValues.join('/'), error: (e as Error).message },
            });
            continue;
          }
          const sealed = await keyring.encrypt(plaintext, context);
          const where = f.key.map((k, i) => `"${k}" = $${i + 4}`).join(' AND ');
          const u = await pool.query(
            `UPDATE ${s}.${f.table} SET ${f.field}_enc = $1, ${f.field}_key = $2 WHERE ${f.field}_enc = $3 AND ${where} RETURNING 1`,
            [sealed.ciphertext, sealed.keyId, row.enc, ...keyValues],
          );
          moved += u.rows.length;
        }
        result.reencrypted += moved;
        movedThisPass += moved;
        if (rotationId !== undefined && moved > 0)
          await pool.query(`UPDATE ${s}.key_rotations SET reencrypted = reencrypted + $2 WHERE id = $1`, [
            rotationId,
            moved,
          ]);
        options.onProgress?.({ ...result, remaining: [] });
        if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
      }
    }
    // Retire what nothing references any more. A key a writer used meanwhile is refused by the foreign keys.
    for (const id of await retiring()) {
      try {
        const { rows } = await pool.query(
          `WITH d AS (DELETE FROM ${s}.data_keys WHERE id = $1 AND state = 'retiring' RETURNING id, kek_id, created_at)
           INSERT INTO ${s}.retired_data_keys (id, kek_id, created_at) SELECT id, kek_id, created_at FROM d RETURNING id`,
          [id],
        );
        if (rows.length === 1) {
          result.retired.push(id);
          await options.audit?.({ actor, action: 'key.retire', outcome: 'success', detail: { keyId: id } });
        }
      } catch (e) {
        if ((e as { code?: string }).code !== '23503') throw e;
      }
    }
    pass++;
    const left = await retiring();
    const unreadableOnly = [...skipped.values()].reduce((n, v) => n + v.size, 0) > 0 && movedThisPass === 0;
    if (left.length === 0 || unreadableOnly || pass >= 10) return finish(false);
  }

  async function finish(stopped: boolean): Promise<ReencryptResult> {
    result.remaining = await retiring();
    if (rotationId !== undefined)
      await pool.query(`UPDATE ${s}.key_rotations SET unreadable = $2 WHERE id = $1`, [rotationId, result.unreadable]);
    if (result.remaining.length === 0)
      await pool.query(`UPDATE ${s}.key_rotations SET finished_at = now() WHERE finished_at IS NULL`);
    await options.audit?.({
      actor,
      action: 'key.reencrypt',
      outcome: result.remaining.length === 0 ? 'success' : 'failure',
      detail: {
        reencrypted: result.reencrypted,
        unreadable: result.unreadable,
        retired: result.retired,
        remaining: result.remaining,
        ...(stopped ? { stopped: true } : {}),
      },
    });
    return result;
  }
}

function rowKey(f: EncryptedField, row: Record<string, string>): string {
  return JSON.stringify(f.key.map((k) => row[k]));
}
