const BRAND = Symbol.for('cryptoscalp.trader.keyring.error');

/** Stable error codes of encryption at rest. */
export type KeyringErrorCode =
  /** A bad option or argument (the field is named). */
  | 'E_KEYRING_INVALID_OPTION'
  /** A ciphertext that is not in the versioned format (`cs1:<keyId>:<payload>`). */
  | 'E_KEYRING_FORMAT'
  /** Authentication failed: the wrong key, a tampered ciphertext, or a ciphertext moved to another row or field. */
  | 'E_KEYRING_DECRYPT'
  /** The ciphertext names a data key the keyring does not hold (retired, or from another database). */
  | 'E_KEYRING_UNKNOWN_KEY'
  /** A data key is wrapped by another key-encryption key than this process's (a wrong or rotated KEK). */
  | 'E_KEYRING_KEK_MISMATCH';

/** The error of encryption at rest: a stable `code`, the offending `field` or key where there is one, and `cause`. */
export class KeyringError extends Error {
  override readonly name = 'KeyringError';
  readonly code: KeyringErrorCode;
  readonly field: string | undefined;
  readonly [BRAND] = true;

  constructor(code: KeyringErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }
}

/** True for a {@link KeyringError}, also across duplicate installs. */
export function isKeyringError(e: unknown): e is KeyringError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}
