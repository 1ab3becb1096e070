// The image's HEALTHCHECK: node itself (the image has no curl) asks the trader's liveness probe, on the port and
// host the trader listens on (TRADER_HTTP_PORT, TRADER_HTTP_HOST; a wildcard host is asked on loopback).
// Exit code 0 when it answers 2xx within the timeout, 1 otherwise, as Docker and podman expect.
const port = process.env.TRADER_HTTP_PORT || '9464';
const bound = process.env.TRADER_HTTP_HOST || '127.0.0.1';
const host = bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound.includes(':') ? `[${bound}]` : bound;

try {
  const res = await fetch(`http://${host}:${port}/health/liveness`, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) console.error(`healthcheck: liveness answered ${res.status}`);
  process.exit(res.ok ? 0 : 1);
} catch (e) {
  console.error(`healthcheck: liveness unreachable: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
