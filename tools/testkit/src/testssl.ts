import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One line of testssl.sh's flat JSON output. */
export interface TestsslFinding {
  id: string;
  severity: 'OK' | 'INFO' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL' | 'WARN' | 'DEBUG' | 'FATAL';
  finding: string;
}

/**
 * testssl.sh's checks that hold the TLS policy, bounded for `npm test` (20-25 s against a loopback server, up to
 * ~100 s on the loaded 2-core CI machine): protocols (`-p`), cipher categories (`-s`), forward secrecy (`-f`), HTTP
 * headers with HSTS (`-h`).
 */
export const TESTSSL_POLICY_CHECKS: readonly string[] = ['-p', '-s', '-f', '-h'];

/**
 * The policy checks plus server defaults and the certificate (`-S`), the server's cipher preference (`-P`) and every
 * vulnerability check (`-U`): about 2 minutes on an idle machine.
 */
export const TESTSSL_FULL_CHECKS: readonly string[] = [...TESTSSL_POLICY_CHECKS, '-S', '-P', '-U'];

/**
 * Findings that only describe the tests' own throw-away certificate, never the server's TLS configuration: a
 * self-signed certificate has no chain to a trusted root, and no CRL or OCSP URI to check revocation with.
 */
export const SELF_SIGNED_CERT_FINDINGS: readonly string[] = ['cert_chain_of_trust', 'cert_revocation'];

/** Severities that fail a scan. */
const FAILING = new Set(['MEDIUM', 'HIGH', 'CRITICAL', 'FATAL']);

/** A testssl.sh run: every finding, and those of MEDIUM severity or worse not in the exclusions. */
export interface TestsslReport {
  findings: TestsslFinding[];
  failing: TestsslFinding[];
  /** Wall time of the run, ms. */
  durationMs: number;
}

/**
 * Runs the Debian `testssl` against `https://127.0.0.1:<port>` (offline: no DNS, no network beyond loopback), with
 * `checks`, and reads its JSON findings. The child is killed by its PID after `timeoutMs`. `exclude` lists finding ids
 * not counted as failing (e.g. {@link SELF_SIGNED_CERT_FINDINGS}).
 */
export async function runTestssl(
  port: number,
  options: { checks?: readonly string[]; exclude?: readonly string[]; timeoutMs?: number } = {},
): Promise<TestsslReport> {
  const dir = await mkdtemp(join(tmpdir(), 'cs-testssl-'));
  const json = join(dir, 'findings.json');
  const started = Date.now();
  try {
    const args = [
      '--quiet',
      '--color',
      '0',
      '--warnings',
      'off',
      '--connect-timeout',
      '10',
      '--openssl-timeout',
      '10',
      '--jsonfile',
      json,
      ...(options.checks ?? TESTSSL_POLICY_CHECKS),
      `https://127.0.0.1:${port}`,
    ];
    // Its own process group: testssl.sh runs openssl children, killed with it on a timeout.
    const child = spawn('testssl', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, detached: true });
    let output = '';
    child.stdout.on('data', (d) => {
      output += String(d);
    });
    child.stderr.on('data', (d) => {
      output += String(d);
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, options.timeoutMs ?? 240_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    let findings: TestsslFinding[];
    try {
      findings = JSON.parse(await readFile(json, 'utf8')) as TestsslFinding[];
    } catch (cause) {
      throw new Error(`testssl exited ${code} without JSON findings:\n${output.slice(-4000)}`, { cause });
    }
    const exclude = new Set(options.exclude ?? []);
    return {
      findings,
      failing: findings.filter((f) => FAILING.has(f.severity) && !exclude.has(f.id)),
      durationMs: Date.now() - started,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The finding with `id`, or undefined. */
export function testsslFinding(report: TestsslReport, id: string): TestsslFinding | undefined {
  return report.findings.find((f) => f.id === id);
}
