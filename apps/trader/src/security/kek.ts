import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { KeyringError } from './errors.js';

/**
 * A key-encryption key (KEK): wraps and unwraps the data keys that encrypt the fields. The trader's own is
 * {@link localKek} (32 bytes from a file or an environment variable); a KMS (AWS KMS `Encrypt`/`Decrypt`, Vault
 * transit, Google Cloud KMS) plugs in by implementing this interface, passing `context` as its encryption context.
 */
export interface KeyEncryptionKey {
  /**
   * A stable, non-secret id of this KEK, stored beside every data key it wraps (`local:<16 hex>`, `kms:<key ARN>`),
   * so a process holding another KEK says so instead of failing to decrypt.
   */
  readonly id: string;
  /** Wraps a 32-byte data key; `context` (the data key's id) must be given again to unwrap. */
  wrap(dataKey: Uint8Array, context: string): Promise<Uint8Array>;
  /** Unwraps what {@link wrap} returned. Rejects for another KEK, another context or tampered bytes. */
  unwrap(wrapped: Uint8Array, context: string): Promise<Uint8Array>;
}

/** Bytes of a KEK and of a data key (AES-256). */
export const KEY_BYTES = 32;

/**
 * Reads a 32-byte key written as 64 hex digits or as base64 / base64url (44 or 43 characters), surrounding white
 * space ignored.
 * @throws KeyringError `E_KEYRING_INVALID_OPTION` naming `field` otherwise (the value itself is never in the message).
 */
export function parseKeyMaterial(text: string, field: string): Buffer {
  const t = typeof text === 'string' ? text.trim() : '';
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) key = Buffer.from(t.replace(/=$/, ''), 'base64url');
  if (key?.length !== KEY_BYTES)
    throw new KeyringError(
      'E_KEYRING_INVALID_OPTION',
      `${field} must hold a 32-byte key as 64 hex digits or base64 (e.g. \`openssl rand -base64 32\`)`,
      { field },
    );
  return key;
}

/** A new random 32-byte key in base64, the form {@link parseKeyMaterial} reads. */
export function generateKeyMaterial(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/**
 * A KEK held in this process: AES-256-GCM key wrapping (random 96-bit nonce, the data key id as additional data).
 * Its id is derived from the key (`local:` and 16 hex digits of a SHA-256 over a label and the key), so it names the
 * key without revealing it.
 * @throws KeyringError `E_KEYRING_INVALID_OPTION` naming `kek` unless the key is 32 bytes.
 */
export function localKek(material: Uint8Array): KeyEncryptionKey {
  if (!(material instanceof Uint8Array) || material.length !== KEY_BYTES)
    throw new KeyringError('E_KEYRING_INVALID_OPTION', 'kek must be 32 bytes', { field: 'kek' });
  const key = Buffer.from(material);
  const id = `local:${createHash('sha256').update('cryptoscalp-kek-id\0').update(key).digest('hex').slice(0, 16)}`;
  return {
    id,
    async wrap(dataKey, context) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(`wrap:${context}`));
      const body = Buffer.concat([c.update(dataKey), c.final()]);
      return Buffer.concat([iv, body, c.getAuthTag()]);
    },
    async unwrap(wrapped, context) {
      const w = Buffer.from(wrapped);
      try {
        const d = createDecipheriv('aes-256-gcm', key, w.subarray(0, 12));
        d.setAAD(Buffer.from(`wrap:${context}`));
        d.setAuthTag(w.subarray(w.length - 16));
        return Buffer.concat([d.update(w.subarray(12, w.length - 16)), d.final()]);
      } catch (cause) {
        throw new KeyringError('E_KEYRING_DECRYPT', `KEK ${id} cannot unwrap data key ${context}`, { cause });
      }
    },
  };
}
