// Bench: /health/readiness (five cached critical checks) vs a raw node:http handler returning a fixed JSON body.
// Method: servers in a child process, autocannon (50 connections, keep-alive) in this one, alternating rounds.
import { reportBench } from '@cryptoscalp/testkit';
import { compare, startServers } from './harness.js';

const servers = await startServers();
try {
  const { baseline, subject, pairRatios } = await compare(
    `http://127.0.0.1:${servers.ports.raw}/`,
    `http://127.0.0.1:${servers.ports.health}/health/readiness`,
  );
  reportBench({
    package: '@cryptoscalp/health',
    bench: 'readiness',
    figures: [
      {
        name: 'GET /health/readiness with five cached critical checks, 50 connections',
        value: subject.rps,
        unit: 'req/s',
        baseline: { name: 'raw node:http fixed JSON', value: baseline.rps },
        higherIsBetter: true,
        target: 0.8,
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
      },
    ],
  });
} finally {
  servers.stop();
}
