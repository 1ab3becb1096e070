export { ENCRYPTED_FIELDS, type EncryptedField, fieldContext } from './encrypted-fields.js';
export { CIPHERTEXT_VERSION, parseCiphertext } from './envelope.js';
export { isKeyringError, KeyringError, type KeyringErrorCode } from './errors.js';
export { generateKeyMaterial, type KeyEncryptionKey, localKek, parseKeyMaterial } from './kek.js';
export { DEVELOPMENT_KEK_FILE, developmentKek, KEK_ENV, type KekSource, loadKek } from './kek-source.js';
export {
  type DataKeyInfo,
  Keyring,
  type KeyringOptions,
  type KeyringStatus,
  type RotationInfo,
  type SealedValue,
} from './keyring.js';
export { keyringDdl } from './keyring-ddl.js';
export { type KeyAuditEntry, type ReencryptOptions, type ReencryptResult, reencryptAll } from './reencrypt.js';
export { type RotationWorker, type RotationWorkerOptions, startRotationWorker } from './rotation-worker.js';
export {
  decryptSecret,
  encryptSecret,
  type VenueAccount,
  VenueCredentialStore,
  type VenueCredentials,
} from './venue-credentials.js';
