import { randomBytes } from 'node:crypto';
import { HealthRegistry } from '@cryptoscalp/health';
import { waitFor } from '@cryptoscalp/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../src/http/tokens.js';
import { localKek } from '../../src/security/index.js';
import { FakeTrader } from './api-fake-trader.js';
import { type Harness, SECRET, startHarness } from './api-harness.js';
import { type FuzzRequest, type Operation, operations, requestFor } from './security-fuzz-arbitraries.js';

/**
 * API fuzzing driven by the OpenAPI document the server serves (issue 16, item 6): every operation in
 * `GET /api/openapi.json` at run time, every path, query and body parameter, with values that follow the schemas and
 * hostile ones (NUL, lone surrogates, RTL marks, 4-byte characters, huge and boundary numbers, wrong types, number
 * spellings like `Infinity` and `0x10`, deep JSON, prototype keys, wrong content types). Asserts no 5xx (nor a
 * dropped connection) and that the audit queue is empty at the end, nothing dropped.
 *
 * Seeded and bounded: `FUZZ_RUNS` requests per operation (default 20, about 20 s here), `FUZZ_SEED` (default below).
 * The long run: `FUZZ_RUNS=1000 npx vitest run --project integration apps/trader/test/integration/security-fuzz.test.ts`. Load shedding and rate limits are off: their 503 and 429 are
 * tested elsewhere and would only hide what the handlers do.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 20);
const SEED = Number(process.env.FUZZ_SEED ?? 1_612_2026);
const registry = new HealthRegistry({ eventLoopDelay: false, heap: false });
let h: Harness;
let ops: Operation[] = [];
let tokens: fc.Arbitrary<string | undefined>;

beforeAll(async () => {
  h = await startHarness({
    sessions: { maxFailures: 1_000_000, kek: localKek(randomBytes(32)) },
    rateLimit: { perIp: 0, perToken: 0 },
    loadShedding: false,
    health: { registry },
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'trader_up 1\n' }),
    metricsMaxPerSecond: 0,
  });
  const doc = (await h.call('GET', '/api/openapi.json')).body;
  ops = operations(doc);
  const expired = await issueToken({ sub: 'old', role: 'admin', secret: SECRET, ttl: 1 });
  const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) });
  tokens = fc.oneof(
    { arbitrary: fc.constant(h.tokens.admin), weight: 12 },
    { arbitrary: fc.constant(h.tokens.viewer), weight: 2 },
    { arbitrary: fc.constant(undefined), weight: 2 },
    { arbitrary: fc.constant(expired), weight: 1 },
    // Tampered: a flipped last character (signature), a garbage string, a token with `alg: none`.
    { arbitrary: fc.constant(`${h.tokens.admin.slice(0, -1)}${h.tokens.admin.endsWith('A') ? 'B' : 'A'}`), weight: 1 },
    { arbitrary: printable, weight: 1 },
    {
      arbitrary: fc.constant(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${h.tokens.admin.split('.')[1]}.`),
      weight: 1,
    },
  );
}, 60_000);

afterAll(async () => {
  await h?.close();
  registry.close();
});

/** Sends `r` to `base` and returns its status (0 when the connection failed without an answer). */
async function send(base: string, r: FuzzRequest): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (r.token !== undefined) headers.authorization = `Bearer ${r.token}`;
  if (r.body?.contentType !== undefined) headers['content-type'] = r.body.contentType;
  const url = `${base}${r.path}${r.query === '' ? '' : `?${r.query}`}`;
  try {
    const res = await fetch(url, {
      method: r.method,
      headers,
      ...(r.body === undefined ? {} : { body: r.body.text }),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, text: (await res.text()).slice(0, 300) };
  } catch (e) {
    return { status: 0, text: String((e as Error).cause ?? e) };
  }
}

/**
 * Runs `runs` seeded requests per operation against `base`; returns the operations that got a 5xx or no answer (with
 * the shrunk request) and the statuses seen per operation.
 */
async function fuzz(
  base: string,
  list: readonly Operation[],
  runs: number,
): Promise<{ failures: string[]; seen: Map<string, Map<number, number>> }> {
  const failures: string[] = [];
  const seen = new Map<string, Map<number, number>>();
  for (const op of list) {
    const name = `${op.method} ${op.path}`;
    const statuses = new Map<number, number>();
    seen.set(name, statuses);
    const result = await fc.check(
      fc.asyncProperty(requestFor(op, tokens), async (r) => {
        const { status, text } = await send(base, r);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 0 || status >= 500)
          throw new Error(`${status} ${text} for ${JSON.stringify({ ...r, token: r.token?.slice(0, 12) })}`);
      }),
      { seed: SEED, numRuns: runs },
    );
    if (result.failed)
      failures.push(`${name}: ${result.errorInstance instanceof Error ? result.errorInstance.message : ''}`);
  }
  return { failures, seen };
}

describe('OpenAPI-driven fuzzing', () => {
  it('finds every operation of the document', () => {
    const names = ops.map((o) => `${o.method} ${o.path}`);
    // The document describes the API routes and the extras; a regression that lost them would fuzz nothing.
    for (const must of [
      'GET /api/orders',
      'GET /api/orders/{id}',
      'POST /api/orders/{id}/cancel',
      'PUT /api/strategy/params',
      'POST /api/kill-switch',
      'POST /api/alerts/silences',
      'GET /api/audit',
      'GET /metrics',
      'GET /health/status',
    ])
      expect(names).toContain(must);
  });

  it(
    'answers every request below 500 and leaves the audit queue empty',
    async () => {
      const { failures, seen } = await fuzz(h.api.url, ops, RUNS);
      if (process.env.FUZZ_VERBOSE === '1')
        for (const [name, statuses] of seen)
          console.info(name, Object.fromEntries([...statuses].sort(([a], [b]) => a - b)));
      expect(failures).toEqual([]);
      // Not vacuous: every operation that needs a role was reached past authentication at least once.
      for (const op of ops) {
        const statuses = [...(seen.get(`${op.method} ${op.path}`)?.keys() ?? [])];
        expect(
          statuses.some((s) => s !== 401 && s !== 403),
          `${op.method} ${op.path}: ${statuses}`,
        ).toBe(true);
      }
      // The audited operations wrote their rows, NUL and lone surrogates included; none waits or was lost.
      await waitFor(() => h.api.stats().audit.pending === 0, { timeoutMs: 30_000, what: 'audit queue empty' });
      const audit = h.api.stats().audit;
      expect(audit).toMatchObject({ pending: 0, dropped: 0, deadLettered: 0 });
      expect(audit.written).toBeGreaterThan(0);
      const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM "${h.schema}".audit_log`);
      expect(rows[0].n).toBe(audit.written);
      expect(h.api.stats().responses['5xx']).toBe(0);
    },
    Math.max(120_000, RUNS * 6_000),
  );

  it('finds a 500 planted at a schema boundary (the fuzzing is not vacuous)', async () => {
    // A trader whose order listing breaks at the largest page the schema allows: fuzzing must reach it.
    class Planted extends FakeTrader {
      override orders(q: Parameters<FakeTrader['orders']>[0]) {
        if (q.limit === 1000) throw new TypeError('planted');
        return super.orders(q);
      }
    }
    const planted = await startHarness(
      { rateLimit: { perIp: 0, perToken: 0 }, loadShedding: false },
      undefined,
      new Planted(),
    );
    try {
      const list = ops.filter((o) => o.path === '/api/orders' && o.method === 'GET');
      const { failures } = await fuzz(planted.api.url, list, 100);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(/^GET \/api\/orders: 500 .*limit=1000/);
    } finally {
      await planted.close();
    }
  }, 120_000);
});
