// Shared harness of the benches: start the servers in a child process, drive them with autocannon.
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type BenchFigure, combineLoadRuns, type LoadFigures } from '@cryptoscalp/testkit';

/** The part of autocannon's result the benches read. */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  pipelining?: number;
}) => Promise<AutocannonResult>;

// autocannon ships no types; it is a devDependency used only here.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** Ports of the servers in the child process. */
export interface ServerPorts {
  raw: number;
  health: number;
}

/** Starts bench/server-child.ts in a child process. */
export async function startServers(): Promise<{ ports: ServerPorts; stop(): void }> {
  const file = fileURLToPath(new URL('./server-child.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ports = await new Promise<ServerPorts>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /PORTS (.*)\n/.exec(out);
      if (match?.[1] !== undefined) resolve(JSON.parse(match[1]) as ServerPorts);
    });
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  return {
    ports,
    stop() {
      child.stdin?.end();
      child.kill();
    },
  };
}

/** One autocannon run's figures. */
export type { LoadFigures } from '@cryptoscalp/testkit';

/** Runs autocannon with 50 connections for `seconds` against `url`. */
export async function load(url: string, seconds: number): Promise<LoadFigures> {
  const r = await autocannon({ url, connections: 50, duration: seconds, pipelining: 1 });
  return {
    rps: r.requests.total / (r.duration || seconds),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/**
 * Measures baseline and subject in short interleaved rounds (B S, S B, B S, ...) after a warm-up of each, so the
 * drift of a shared, noisy machine falls on both alike. Throughput, p50 and p99 are the medians over the rounds, so a
 * round hit by someone else's build does not decide the figure.
 */
export async function compare(
  baselineUrl: string,
  subjectUrl: string,
  rounds = 8,
  seconds = 2,
): Promise<{ baseline: LoadFigures; subject: LoadFigures; pairRatios: number[] }> {
  await load(baselineUrl, 1);
  await load(subjectUrl, 1);
  const base: LoadFigures[] = [];
  const subj: LoadFigures[] = [];
  const pairRatios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let b: LoadFigures;
    let s: LoadFigures;
    if (i % 2 === 0) {
      b = await load(baselineUrl, seconds);
      s = await load(subjectUrl, seconds);
    } else {
      s = await load(subjectUrl, seconds);
      b = await load(baselineUrl, seconds);
    }
    base.push(b);
    subj.push(s);
    pairRatios.push(Math.round((s.rps / b.rps) * 100) / 100);
  }
  return { baseline: combineLoadRuns(base), subject: combineLoadRuns(subj), pairRatios };
}

/**
 * Benchmarks one probe endpoint against the raw handler (servers started and stopped here) and returns the figure
 * that `liveness.ts` and `readiness.ts` report.
 */
export async function measureProbe(
  probe: 'liveness' | 'readiness',
  name: string,
  target: number,
): Promise<BenchFigure> {
  const servers = await startServers();
  try {
    const { baseline, subject, pairRatios } = await compare(
      `http://127.0.0.1:${servers.ports.raw}/`,
      `http://127.0.0.1:${servers.ports.health}/health/${probe}`,
    );
    return {
      name,
      value: subject.rps,
      unit: 'req/s',
      baseline: { name: 'raw node:http fixed JSON', value: baseline.rps },
      higherIsBetter: true,
      target,
      method:
        'autocannon 8, 50 keep-alive connections, 8 interleaved rounds of 2 s each (B S, S B, ...) after 1 s warm-up each; servers in one child process, load generator in the parent; req/s, p50 and p99 are medians over the rounds; measured on a shared 2-core machine under contention',
      extra: {
        p50Ms: subject.p50,
        p99Ms: subject.p99,
        baselineP50Ms: baseline.p50,
        baselineP99Ms: baseline.p99,
        errors: subject.errors + baseline.errors,
        non2xx: subject.non2xx + baseline.non2xx,
        pairRatios: pairRatios.join(' '),
      },
    };
  } finally {
    servers.stop();
  }
}
