import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KeyringError } from './errors.js';

/** Version tag of the ciphertext format; the first field of every ciphertext. */
export const CIPHERTEXT_VERSION = 'cs1';
/** A data key id: `dk_` and 16 lowercase hex digits. */
export const KEY_ID = /^dk_[0-9a-f]{16}$/;

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The parts of a ciphertext string. */
export interface ParsedCiphertext {
  version: typeof CIPHERTEXT_VERSION;
  keyId: string;
  iv: Buffer;
  body: Buffer;
  tag: Buffer;
}

/**
 * Seals `plaintext` with AES-256-GCM under the 32-byte `key` named `keyId`, as `cs1:<keyId>:<base64url(iv|ct|tag)>`.
 * The additional authenticated data is the version, the key id and `context` (the row and field the value belongs
 * to), so a ciphertext moved to another row or field, or relabelled with another key id, does not open.
 */
export function seal(key: Uint8Array, keyId: string, plaintext: Uint8Array, context: string): string {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad(keyId, context));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return `${CIPHERTEXT_VERSION}:${keyId}:${Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url')}`;
}

/**
 * Opens a ciphertext of {@link seal} with `key`.
 * @throws KeyringError `E_KEYRING_DECRYPT` for a wrong key, a tampered ciphertext or another `context`.
 */
export function open(key: Uint8Array, parsed: ParsedCiphertext, context: string): Buffer {
  try {
    const d = createDecipheriv('aes-256-gcm', key, parsed.iv);
    d.setAAD(aad(parsed.keyId, context));
    d.setAuthTag(parsed.tag);
    return Buffer.concat([d.update(parsed.body), d.final()]);
  } catch (cause) {
    throw new KeyringError(
      'E_KEYRING_DECRYPT',
      `cannot decrypt a value sealed with ${parsed.keyId}: wrong key, tampered ciphertext or another field`,
      { cause },
    );
  }
}

/**
 * Splits a ciphertext string into its parts.
 * @throws KeyringError `E_KEYRING_FORMAT` when it is not `cs1:<keyId>:<payload>` of a plausible length.
 */
export function parseCiphertext(text: string): ParsedCiphertext {
  const parts = typeof text === 'string' ? text.split(':') : [];
  const [version, keyId, payload] = parts;
  if (
    parts.length !== 3 ||
    version !== CIPHERTEXT_VERSION ||
    keyId === undefined ||
    !KEY_ID.test(keyId) ||
    payload === undefined ||
    !/^[A-Za-z0-9_-]+$/.test(payload)
  )
    throw new KeyringError('E_KEYRING_FORMAT', `not a ${CIPHERTEXT_VERSION} ciphertext`);
  const raw = Buffer.from(payload, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES)
    throw new KeyringError('E_KEYRING_FORMAT', `a ${CIPHERTEXT_VERSION} ciphertext is too short`);
  return {
    version: CIPHERTEXT_VERSION,
    keyId,
    iv: raw.subarray(0, IV_BYTES),
    body: raw.subarray(IV_BYTES, raw.length - TAG_BYTES),
    tag: raw.subarray(raw.length - TAG_BYTES),
  };
}

function aad(keyId: string, context: string): Buffer {
  return Buffer.from(`${CIPHERTEXT_VERSION}:${keyId}:${context}`, 'utf8');
}
