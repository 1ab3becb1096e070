import { createHmac, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { TraderError } from '../../errors.js';

/** A Binance API key with its secret: an HMAC secret or an Ed25519 private key (PEM, PKCS#8). */
export type BinanceCredentials =
  | { readonly type: 'hmac'; readonly apiKey: string; readonly secret: string }
  | { readonly type: 'ed25519'; readonly apiKey: string; readonly privateKeyPem: string };

/** Parameter values as Binance takes them; `undefined` values are left out. */
export type BinanceParams = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * Signs request payloads the way Binance's spot API documents (`Request security`): HMAC-SHA256 of the payload with
 * the secret key, as lower-case hex; or an Ed25519 signature of the payload's UTF-8 bytes, as base64. The REST API
 * signs the query string in the order it is sent (`totalParams`); the WebSocket API signs its `params` sorted by name.
 * Secrets never leave this object: it has no accessor for them and its `toJSON` / inspection shows only the key type.
 */
export class BinanceSigner {
  readonly type: 'hmac' | 'ed25519';
  readonly apiKey: string;
  readonly #hmacSecret: string | undefined;
  readonly #privateKey: KeyObject | undefined;

  /** @throws TraderError `E_TRADER_INVALID_CONFIG` when a key is empty or the PEM is not an Ed25519 private key. */
  constructor(credentials: BinanceCredentials) {
    if (typeof credentials.apiKey !== 'string' || credentials.apiKey === '')
      throw new TraderError('E_TRADER_INVALID_CONFIG', 'the Binance API key is empty', { field: 'apiKey' });
    this.type = credentials.type;
    this.apiKey = credentials.apiKey;
    if (credentials.type === 'hmac') {
      if (typeof credentials.secret !== 'string' || credentials.secret === '')
        throw new TraderError('E_TRADER_INVALID_CONFIG', 'the Binance secret key is empty', { field: 'secret' });
      this.#hmacSecret = credentials.secret;
    } else if (credentials.type === 'ed25519') {
      let key: KeyObject;
      try {
        key = createPrivateKey(credentials.privateKeyPem);
      } catch (cause) {
        throw new TraderError('E_TRADER_INVALID_CONFIG', 'the Binance private key is not a PEM private key', {
          field: 'privateKeyPem',
          cause,
        });
      }
      if (key.asymmetricKeyType !== 'ed25519')
        throw new TraderError(
          'E_TRADER_INVALID_CONFIG',
          `the Binance private key is ${key.asymmetricKeyType}, not ed25519`,
          {
            field: 'privateKeyPem',
          },
        );
      this.#privateKey = key;
    } else {
      throw new TraderError('E_TRADER_INVALID_CONFIG', 'credentials.type must be hmac or ed25519', { field: 'type' });
    }
  }

  /** The signature of `payload`: lower-case hex (HMAC-SHA256) or base64 (Ed25519). */
  sign(payload: string): string {
    if (this.#privateKey !== undefined)
      return sign(null, Buffer.from(payload, 'utf8'), this.#privateKey).toString('base64');
    return createHmac('sha256', this.#hmacSecret as string)
      .update(payload, 'utf8')
      .digest('hex');
  }

  /** Keeps secrets out of logs and JSON. */
  toJSON(): { type: string } {
    return { type: this.type };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `BinanceSigner { type: '${this.type}' }`;
  }
}

/** `k=v&k=v` in the given order, values percent-encoded as a query string (what the REST API signs and receives). */
export function restPayload(params: BinanceParams): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    parts.push(`${k}=${encodeURIComponent(String(v))}`);
  }
  return parts.join('&');
}

/** `k=v&k=v` sorted by name, values unencoded: the signature payload of a WebSocket API request. */
export function wsApiPayload(params: BinanceParams): string {
  return Object.keys(params)
    .filter((k) => params[k] !== undefined && k !== 'signature')
    .sort()
    .map((k) => `${k}=${String(params[k])}`)
    .join('&');
}
