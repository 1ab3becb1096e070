// Bench: /health/liveness vs a raw node:http handler returning a fixed JSON body.
// Method: servers in a child process, autocannon (50 connections, keep-alive) in this one, alternating rounds.
import { reportBench } from '@cryptoscalp/testkit';
import { measureProbe } from './harness.js';

reportBench({
  package: '@cryptoscalp/health',
  bench: 'liveness',
  figures: [await measureProbe('liveness', 'GET /health/liveness, 50 connections', 0.9)],
});
