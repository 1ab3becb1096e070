// Bench: /health/readiness (five cached critical checks) vs a raw node:http handler returning a fixed JSON body.
// Method: servers in a child process, autocannon (50 connections, keep-alive) in this one, alternating rounds.
import { reportBench } from '@cryptoscalp/testkit';
import { measureProbe } from './harness.js';

reportBench({
  package: '@cryptoscalp/health',
  bench: 'readiness',
  figures: [
    await measureProbe('readiness', 'GET /health/readiness with five cached critical checks, 50 connections', 0.8),
  ],
});
