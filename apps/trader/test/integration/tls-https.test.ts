import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { makeTestCa, selfSignedCert, waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createHttpServer } from '../../src/http/server.js';
import { HSTS_HEADER } from '../../src/http/tls.js';
import { tempDirs } from '../temp-dir.js';
import { type Harness, SECRET, startHarness } from './api-harness.js';

/**
 * The HTTP server with `tls`: HTTPS and WSS with the policy of `src/http/tls.ts` (probed with node:tls handshakes that
 * offer one version or one cipher each), HSTS on every response, and certificate reloads (good pair applied, bad pair
 * refused with the old one kept).
 */
const tempDir = tempDirs('tls-https-');
const dir = tempDir();
let certFile: string;
let keyFile: string;
let ca: string;
let h: Harness | undefined;
const lines: string[] = [];

/** A handshake with the given client limits: version, cipher, leaf fingerprint, ticket; or the error. */
function handshake(
  port: number,
  options: {
    minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2';
    maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2';
    ciphers?: string;
  } = {},
) {
  return new Promise<{ protocol: string | null; cipher: string; fingerprint: string; ticket: boolean } | Error>(
    (resolve) => {
      // The server's checks are what is tested here, so the client verifies nothing and offers what it is told.
      const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
      s.once('secureConnect', () => {
        const peer: PeerCertificate = s.getPeerCertificate();
        const out = {
          protocol: s.getProtocol(),
          cipher: s.getCipher().standardName,
          fingerprint: peer.fingerprint256,
          ticket: s.getTLSTicket() !== undefined,
        };
        s.end();
        resolve(out);
      });
      s.once('error', (e) => resolve(e));
    },
  );
}

function get(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    const r = request(url, { ca, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    r.on('error', reject);
    r.end();
  });
}

const fingerprintOf = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
const port = () => Number(new URL(h?.api.url as string).port);

/** Replaces the served files the way a secret volume does: write beside, then rename over. */
function install(pair: { cert: string; key: string }) {
  copyFileSync(pair.cert, `${certFile}.new`);
  copyFileSync(pair.key, `${keyFile}.new`);
  renameSync(`${certFile}.new`, certFile);
  renameSync(`${keyFile}.new`, keyFile);
}

beforeAll(async () => {
  const first = await selfSignedCert(dir, 'served');
  ({ cert: certFile, key: keyFile } = first);
  ca = readFileSync(certFile, 'utf8');
  h = await startHarness({ tls: { certFile, keyFile, reloadDebounceMs: 50, log: (l) => lines.push(l) } });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('the HTTP server with tls', () => {
  it('serves HTTPS with HSTS on API, health and dashboard responses', async () => {
    expect(h?.api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const api = await get(`${h?.api.url}/api/positions`, { authorization: `Bearer ${h?.tokens.viewer}` });
    expect(api.status).toBe(200);
    expect(api.headers['strict-transport-security']).toBe(HSTS_HEADER);
    const probe = await get(`${h?.api.url}/health/liveness`);
    expect(probe.headers['strict-transport-security']).toBe(HSTS_HEADER);
    const page = await get(`${h?.api.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['strict-transport-security']).toBe(HSTS_HEADER);
  });

  it('speaks TLS 1.2 and 1.3 only, TLS 1.2 with forward-secret AEAD suites only, without session tickets', async () => {
    expect(await handshake(port())).toMatchObject({ protocol: 'TLSv1.3' });
    const tls12 = await handshake(port(), { maxVersion: 'TLSv1.2' });
    expect(tls12).toMatchObject({
      protocol: 'TLSv1.2',
      cipher: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
      ticket: false,
    });
    expect(await handshake(port(), { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' })).toMatchObject({
      cipher: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
    });
    // CBC (no AEAD), and static RSA key exchange (no forward secrecy): offered alone, refused.
    expect(await handshake(port(), { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' })).toBeInstanceOf(Error);
    expect(await handshake(port(), { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' })).toBeInstanceOf(Error);
    // OpenSSL's default security level forbids TLS 1.0/1.1 on the client too; level 0 lets it offer them.
    for (const v of ['TLSv1', 'TLSv1.1'] as const)
      expect(
        await handshake(port(), { minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' }),
        v,
      ).toBeInstanceOf(Error);
  });

  it('serves the stream over WSS', async () => {
    const url = `${h?.api.url.replace('https:', 'wss:')}/api/stream`;
    const ws = new WebSocket(url, ['bearer', h?.tokens.viewer as string], { ca });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      });
      expect(ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      ws.terminate();
    }
  });

  it('reloads a changed pair, and keeps the old one when the new pair is bad', async () => {
    const before = await handshake(port());
    expect(before).toMatchObject({ fingerprint: fingerprintOf(certFile) });
    const next = await (await makeTestCa(tempDir(), 'reload-ca')).issue('next');
    install(next);
    await waitFor(
      async () => {
        const now = await handshake(port());
        return !(now instanceof Error) && now.fingerprint === fingerprintOf(next.cert);
      },
      { timeoutMs: 10_000, what: 'the new certificate served' },
    );
    expect(h?.api.stats().tls).toMatchObject({ reloads: 1, reloadFailures: 0 });

    // A key that does not belong to the certificate (an operator copied half a pair): refused, old pair kept.
    const stray = await selfSignedCert(tempDir(), 'stray');
    copyFileSync(stray.key, `${keyFile}.new`);
    renameSync(`${keyFile}.new`, keyFile);
    await waitFor(() => (h?.api.stats().tls?.reloadFailures ?? 0) >= 1, {
      timeoutMs: 10_000,
      what: 'the bad pair refused',
    });
    expect(await handshake(port())).toMatchObject({ fingerprint: fingerprintOf(next.cert) });
    expect(lines.some((l) => /reload refused.*tls\.keyFile does not match/.test(l))).toBe(true);
    // Garbage in the certificate file: refused as well.
    writeFileSync(certFile, 'not a certificate');
    await waitFor(() => (h?.api.stats().tls?.reloadFailures ?? 0) >= 2, { timeoutMs: 10_000, what: 'garbage refused' });
    expect(await handshake(port())).toMatchObject({ fingerprint: fingerprintOf(next.cert) });
    expect(h?.api.stats().tls?.reloads).toBe(1);
  });

  it('refuses unreadable, mismatched and unknown tls options, naming the field', async () => {
    const d = tempDir();
    const a = await selfSignedCert(d, 'a');
    const b = await selfSignedCert(d, 'b');
    const base = { trader: h?.trader, auth: { secret: SECRET }, audit: { pool: h?.pool, schema: h?.schema } } as never;
    const attempt = (tls: unknown) => createHttpServer({ ...(base as object), tls } as never);
    await expect(attempt({ certFile: join(d, 'missing.crt'), keyFile: a.key })).rejects.toMatchObject({
      code: 'E_API_INVALID_OPTION',
      field: 'tls.certFile',
    });
    await expect(attempt({ certFile: a.cert, keyFile: b.key })).rejects.toMatchObject({ field: 'tls.keyFile' });
    await expect(attempt({ certFile: a.key, keyFile: a.key })).rejects.toMatchObject({ field: 'tls.certFile' });
    await expect(attempt({ certFile: a.cert, keyFile: a.key, ca: 'x' })).rejects.toMatchObject({ field: 'tls.ca' });
  });
});
