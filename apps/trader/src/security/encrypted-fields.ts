/**
 * A field stored encrypted: columns `<field>_enc` (the ciphertext, naming its key) and `<field>_key` (that key's id, a
 * foreign key to `data_keys`) of `table`, whose rows are identified by the `key` columns.
 */
export interface EncryptedField {
  table: string;
  field: string;
  key: readonly string[];
}

/** Every encrypted field of the trader: what `trader keys rotate` re-encrypts. */
export const ENCRYPTED_FIELDS: readonly EncryptedField[] = Object.freeze([
  { table: 'users', field: 'totp_secret', key: ['username'] },
  { table: 'venue_credentials', field: 'api_key', key: ['venue', 'account'] },
  { table: 'venue_credentials', field: 'api_secret', key: ['venue', 'account'] },
]);

/**
 * The encryption context (additional authenticated data) of a field of one row: `<table>.<field>:<key values>`.
 * A ciphertext copied into another row or field does not decrypt there.
 */
export function fieldContext(table: string, field: string, keyValues: readonly string[]): string {
  return `${table}.${field}:${keyValues.map((v) => encodeURIComponent(v)).join('/')}`;
}
