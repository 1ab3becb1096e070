import { constants, createPrivateKey, X509Certificate } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { Log } from '../internal/log.js';
import { ApiError } from './errors.js';

/** HTTPS for the trader's servers: PEM files, reloaded when they change. */
export interface TlsOptions {
  /** Certificate chain, PEM (leaf first). */
  certFile: string;
  /** Private key of the leaf, PEM (unencrypted). */
  keyFile: string;
  /** Changes to either file within this window are applied as one reload (editors and Kubernetes write in steps). @default 250 */
  reloadDebounceMs?: number;
  /** Where reloads and refused pairs are reported. @default console.error */
  log?: Log;
}

/** Reload counters and the served certificate's expiry. */
export interface TlsStats {
  /** Pairs applied after the first. */
  reloads: number;
  /** Changed pairs refused (unreadable, not PEM, key not matching): the previous pair stays in service. */
  reloadFailures: number;
  /** `notAfter` of the certificate in service, ISO 8601. */
  certNotAfter: string;
}

/**
 * TLS 1.2 ciphers: ECDHE key exchange (forward secrecy) with an AEAD only, ECDSA before RSA, AES-GCM before
 * CHACHA20-POLY1305 (Mozilla's intermediate list, as Nginx's `deploy/nginx/conf.d/tls.conf`). TLS 1.3's suites are
 * all forward-secret AEADs and keep OpenSSL's default order.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** `Strict-Transport-Security` sent on every response of a TLS server (two years, subdomains; no preload list). */
export const HSTS_HEADER = 'max-age=63072000; includeSubDomains';

/**
 * The protocol policy, apart from the key pair: TLS 1.2 and 1.3 only, {@link TLS12_CIPHERS} in the server's order,
 * no session tickets (a ticket key that never rotates would undo forward secrecy for every resumed session; Node has
 * no server-side session cache, so clients do full handshakes), no renegotiation (a client-initiated renegotiation
 * costs the server a handshake: a DoS lever).
 */
export const TLS_POLICY: Readonly<SecureContextOptions & { honorCipherOrder: boolean }> = Object.freeze({
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
  ciphers: TLS12_CIPHERS,
  honorCipherOrder: true,
  ecdhCurve: 'X25519:prime256v1:secp384r1',
  secureOptions:
    constants.SSL_OP_NO_TICKET | constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE,
});

/** A certificate and its key, read and checked together. */
interface KeyPair {
  cert: string;
  key: string;
  notAfter: string;
}

/**
 * Reads and checks a pair: PEM certificate, PEM key, the key belongs to the certificate, and OpenSSL accepts them
 * with {@link TLS_POLICY}. @throws ApiError `E_API_INVALID_OPTION` naming `tls.certFile` or `tls.keyFile`.
 */
function readPair(o: TlsOptions): KeyPair {
  const read = (field: 'certFile' | 'keyFile'): string => {
    try {
      return readFileSync(o[field], 'utf8');
    } catch (cause) {
      return fail(field, `cannot be read (${o[field]}): ${(cause as Error).message}`, cause);
    }
  };
  const cert = read('certFile');
  const key = read('keyFile');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (cause) {
    return fail('certFile', `is not a PEM certificate (${o.certFile})`, cause);
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) return fail('keyFile', `does not match ${o.certFile}`);
  } catch (cause) {
    if (cause instanceof ApiError) throw cause;
    return fail('keyFile', `is not an unencrypted PEM private key (${o.keyFile})`, cause);
  }
  try {
    createSecureContext({ ...TLS_POLICY, cert, key });
  } catch (cause) {
    return fail('certFile', `is refused by OpenSSL: ${(cause as Error).message}`, cause);
  }
  return { cert, key, notAfter: new Date(x509.validTo).toISOString() };
}

function fail(field: 'certFile' | 'keyFile', message: string, cause?: unknown): never {
  throw new ApiError('E_API_INVALID_OPTION', `tls.${field} ${message}`, { field: `tls.${field}`, cause });
}

/**
 * The certificate of a TLS server, from files, kept current: {@link serverOptions} for the server's creation, then
 * {@link watch} reloads the pair into the running server (`setSecureContext`, new handshakes only) when either file
 * changes. A changed pair that fails the checks is logged and counted, and the previous pair keeps serving.
 *
 * OCSP stapling is not done here: Node has no OCSP client, a self-signed or private-CA certificate has no responder
 * to ask, and public certificates are stapled by the TLS-terminating proxy (`ssl_stapling` in deploy/nginx).
 */
export class TlsFiles {
  readonly #options: Required<TlsOptions>;
  #pair: KeyPair;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #reloads = 0;
  #reloadFailures = 0;

  /** Reads and checks the pair. @throws ApiError `E_API_INVALID_OPTION` naming the field. */
  constructor(options: TlsOptions) {
    if (options === null || typeof options !== 'object')
      throw new ApiError('E_API_INVALID_OPTION', 'tls must be an object', { field: 'tls' });
    for (const key of Object.keys(options))
      if (!['certFile', 'keyFile', 'reloadDebounceMs', 'log'].includes(key))
        throw new ApiError('E_API_INVALID_OPTION', `tls.${key} is not a known option`, { field: `tls.${key}` });
    for (const field of ['certFile', 'keyFile'] as const)
      if (typeof options[field] !== 'string' || options[field] === '') fail(field, 'must be a file path');
    const debounce = options.reloadDebounceMs ?? 250;
    if (!Number.isInteger(debounce) || debounce < 0 || debounce > 60_000)
      throw new ApiError('E_API_INVALID_OPTION', 'tls.reloadDebounceMs must be an integer in [0, 60000]', {
        field: 'tls.reloadDebounceMs',
      });
    if (options.log !== undefined && typeof options.log !== 'function')
      throw new ApiError('E_API_INVALID_OPTION', 'tls.log must be a function', { field: 'tls.log' });
    this.#options = {
      certFile: resolve(options.certFile),
      keyFile: resolve(options.keyFile),
      reloadDebounceMs: debounce,
      log: options.log ?? ((line) => console.error(line)),
    };
    this.#pair = readPair(this.#options);
  }

  /** Options for `https.createServer` (or Fastify's `https`): the policy and the current pair. */
  serverOptions(): SecureContextOptions & { honorCipherOrder: boolean } {
    return { ...TLS_POLICY, cert: this.#pair.cert, key: this.#pair.key };
  }

  /**
   * Watches the files' directories (a Kubernetes secret volume swaps a `..data` symlink, so the files themselves
   * never change in place) and reloads the pair into `server` after `reloadDebounceMs` of quiet.
   */
  watch(server: TlsServer): void {
    const dirs = new Set([dirname(this.#options.certFile), dirname(this.#options.keyFile)]);
    for (const dir of dirs) {
      const watcher = watch(dir, { persistent: false }, () => {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.#reload(server), this.#options.reloadDebounceMs);
        this.#timer.unref();
      });
      // A directory that goes away (volume unmounted) stops reloads; the pair in service stays.
      watcher.on('error', (e) =>
        this.#options.log(`trader: tls        watching ${dir} stopped: ${e.message}`, 'error'),
      );
      this.#watchers.push(watcher);
    }
  }

  #reload(server: TlsServer): void {
    let next: KeyPair;
    try {
      next = readPair(this.#options);
    } catch (e) {
      this.#reloadFailures++;
      this.#options.log(
        `trader: tls        reload refused, the previous certificate stays: ${(e as Error).message}`,
        'error',
      );
      return;
    }
    if (next.cert === this.#pair.cert && next.key === this.#pair.key) return;
    server.setSecureContext({ ...TLS_POLICY, cert: next.cert, key: next.key });
    this.#pair = next;
    this.#reloads++;
    this.#options.log(`trader: tls        reloaded ${basename(this.#options.certFile)} (valid until ${next.notAfter})`);
  }

  stats(): TlsStats {
    return { reloads: this.#reloads, reloadFailures: this.#reloadFailures, certNotAfter: this.#pair.notAfter };
  }

  /** Stops watching. */
  close(): void {
    clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }
}
