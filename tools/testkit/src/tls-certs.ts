import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileAsync } from './process.js';

/** PEM files of a certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A throw-away certificate authority: its certificate and key, and what it issued. */
export interface TestCa extends CertFiles {
  /**
   * Issues an ECDSA P-256 server certificate for `localhost` and 127.0.0.1 (both as SANs, so `verify-full` and
   * hostname checks pass), valid one day, into `<dir>/<name>.crt|.key` (key mode 0600).
   */
  issue(name: string): Promise<CertFiles>;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const SAN = 'subjectAltName=DNS:localhost,IP:127.0.0.1';

/** Makes a certificate authority with openssl in `dir` (`<name>.crt`, `<name>.key`). */
export async function makeTestCa(dir: string, name = 'ca'): Promise<TestCa> {
  const ca = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await execFileAsync('openssl', [
    'req',
    '-x509',
    ...EC,
    '-days',
    '1',
    '-subj',
    `/CN=cryptoscalp test ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
  ]);
  return {
    ...ca,
    async issue(leaf) {
      const out = { cert: join(dir, `${leaf}.crt`), key: join(dir, `${leaf}.key`) };
      const csr = join(dir, `${leaf}.csr`);
      const ext = join(dir, `${leaf}.ext`);
      await execFileAsync('openssl', ['req', '-new', ...EC, '-subj', '/CN=localhost', '-keyout', out.key, '-out', csr]);
      await writeFile(ext, `${SAN}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
      await execFileAsync('openssl', [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        ca.cert,
        '-CAkey',
        ca.key,
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        ext,
        '-out',
        out.cert,
      ]);
      await chmod(out.key, 0o600);
      return out;
    },
  };
}

/**
 * Makes a self-signed ECDSA P-256 certificate for `localhost` and 127.0.0.1 in `dir`, valid `days` (testssl.sh rates
 * a certificate that expires within 60 days MEDIUM, within 30 HIGH).
 */
export async function selfSignedCert(dir: string, name = 'tls', days = 1): Promise<CertFiles> {
  const out = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await execFileAsync('openssl', [
    'req',
    '-x509',
    ...EC,
    '-days',
    String(days),
    '-subj',
    '/CN=localhost',
    '-addext',
    SAN,
    '-keyout',
    out.key,
    '-out',
    out.cert,
  ]);
  await chmod(out.key, 0o600);
  return out;
}
