import { HealthRegistry } from '@cryptoscalp/health';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/http/routes.js';
import { issueToken } from '../../src/http/tokens.js';
import type { ApiCache, Role } from '../../src/http/types.js';
import { type Harness, type Json, SECRET, startHarness } from './api-harness.js';

/** An in-process TTL cache implementing the API's cache port. */
class TtlCache implements ApiCache {
  readonly entries = new Map<string, { value: unknown; until: number }>();
  async get(key: string): Promise<unknown> {
    const e = this.entries.get(key);
    return e !== undefined && e.until > Date.now() ? e.value : undefined;
  }
  set(key: string, value: unknown, options: { ttlMs: number }): void {
    this.entries.set(key, { value, until: Date.now() + options.ttlMs });
  }
}

interface Case {
  op: string;
  method: string;
  path: string;
  role: Role;
  body?: unknown;
  bad?: { path?: string; body?: unknown; field: string };
}

const CASES: Case[] = [
  { op: 'getMe', method: 'GET', path: '/api/me', role: 'viewer', bad: { path: '/api/me?x=1', field: 'querystring.x' } },
  {
    op: 'listPositions',
    method: 'GET',
    path: '/api/positions',
    role: 'viewer',
    bad: { path: '/api/positions?verbose=1', field: 'querystring.verbose' },
  },
  {
    op: 'listOrders',
    method: 'GET',
    path: '/api/orders?symbol=BTCUSDT&limit=10',
    role: 'viewer',
    bad: { path: '/api/orders?limit=0', field: 'querystring.limit' },
  },
  {
    op: 'getOrder',
    method: 'GET',
    path: '/api/orders/trader-1-000001',
    role: 'viewer',
    bad: { path: '/api/orders/bad%20id', field: 'params.id' },
  },
  {
    op: 'cancelOrder',
    method: 'POST',
    path: '/api/orders/trader-1-000002/cancel',
    role: 'trader',
    body: { reason: 'test' },
    bad: { body: { why: 'x' }, field: 'body.why' },
  },
  {
    op: 'listFills',
    method: 'GET',
    path: '/api/fills?symbol=BTCUSDT&since=0',
    role: 'viewer',
    bad: { path: '/api/fills?since=-5', field: 'querystring.since' },
  },
  {
    op: 'getPnl',
    method: 'GET',
    path: '/api/pnl',
    role: 'viewer',
    bad: { path: '/api/pnl?a=b', field: 'querystring.a' },
  },
  {
    op: 'getRisk',
    method: 'GET',
    path: '/api/risk',
    role: 'viewer',
    bad: { path: '/api/risk?a=b', field: 'querystring.a' },
  },
  {
    op: 'getStrategyParams',
    method: 'GET',
    path: '/api/strategy/params',
    role: 'viewer',
    bad: { path: '/api/strategy/params?a=b', field: 'querystring.a' },
  },
  {
    op: 'updateStrategyParams',
    method: 'PUT',
    path: '/api/strategy/params',
    role: 'trader',
    body: { threshold: 0.1 },
    bad: { body: { threshold: 0.9 }, field: 'body.threshold' },
  },
  {
    op: 'engageKillSwitch',
    method: 'POST',
    path: '/api/kill-switch',
    role: 'admin',
    body: { mode: 'REDUCING', reason: 'drill' },
    bad: { body: { mode: 'OFF', reason: 'drill' }, field: 'body.mode' },
  },
  {
    op: 'releaseKillSwitch',
    method: 'POST',
    path: '/api/kill-switch/release',
    role: 'admin',
    body: { reason: 'drill over' },
    bad: { body: {}, field: 'body.reason' },
  },
  {
    op: 'listAlerts',
    method: 'GET',
    path: '/api/alerts',
    role: 'viewer',
    bad: { path: '/api/alerts?a=b', field: 'querystring.a' },
  },
  {
    op: 'createSilence',
    method: 'POST',
    path: '/api/alerts/silences',
    role: 'admin',
    body: { matchers: { alertname: 'feed-stale' }, durationMs: 3_600_000, comment: 'maintenance' },
    bad: {
      body: { matchers: { alertname: 'feed-stale' }, durationMs: '3600000', comment: 'maintenance' },
      field: 'body.durationMs',
    },
  },
  {
    op: 'acknowledgeAlert',
    method: 'POST',
    path: '/api/alerts/a-1/ack',
    role: 'trader',
    bad: { body: { comment: 5 }, field: 'body.comment' },
  },
  {
    op: 'getStatus',
    method: 'GET',
    path: '/api/status',
    role: 'viewer',
    bad: { path: '/api/status?a=b', field: 'querystring.a' },
  },
  {
    op: 'listAudit',
    method: 'GET',
    path: '/api/audit?limit=50',
    role: 'admin',
    bad: { path: '/api/audit?limit=5000', field: 'querystring.limit' },
  },
];

const RANK: Record<Role, number> = { viewer: 0, trader: 1, admin: 2 };
const ROLES: Role[] = ['viewer', 'trader', 'admin'];

let h: Harness;
const cache = new TtlCache();
const registry = new HealthRegistry({ eventLoopDelay: false, heap: false });
let metricsCalls = 0;

beforeAll(async () => {
  registry.register({ name: 'dependency', healthCheck: async () => ({ status: 'pass' }) }, { critical: true });
  h = await startHarness({
    bodyLimit: 2_048,
    cache,
    cacheTtlMs: 60_000,
    health: { registry },
    metrics: async () => {
      metricsCalls++;
      return { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'trader_up 1\n' };
    },
  });
});

afterAll(async () => {
  await h?.close();
  registry.close();
});

async function auditRows(action?: string): Promise<Json[]> {
  const { rows } = await h.pool.query(
    `SELECT * FROM "${h.schema}".audit_log ${action === undefined ? '' : 'WHERE action = $1'} ORDER BY id`,
    action === undefined ? [] : [action],
  );
  return rows;
}

describe('every route and role', () => {
  it('the test table covers every route the server registers', () => {
    expect(CASES.map((c) => c.op).sort()).toEqual(ROUTES.map((r) => r.operationId).sort());
  });

  for (const c of CASES) {
    it(`${c.method} ${c.path}: 401 without or with a bad token, 403 below ${c.role}, 200 at ${c.role}, 400 on bad input`, async () => {
      const init = c.body === undefined ? {} : { body: c.body };
      const none = await h.call(c.method, c.path, init);
      expect(none.status).toBe(401);
      expect(none.body.code).toBe('E_API_UNAUTHORIZED');
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);

      const forged = await issueToken({ sub: 'mallory', role: 'admin', secret: 'another-secret-0123456789abcdef-xyz' });
      expect((await h.call(c.method, c.path, { ...init, token: forged })).status).toBe(401);

      for (const role of ROLES) {
        if (RANK[role] >= RANK[c.role]) continue;
        const r = await h.call(c.method, c.path, { ...init, token: h.tokens[role] });
        expect(r.status, `${role} on ${c.op}`).toBe(403);
        expect(r.body.code).toBe('E_API_FORBIDDEN');
      }

      const ok = await h.call(c.method, c.path, { ...init, token: h.tokens[c.role] });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body).toBeDefined();

      for (const role of ROLES) {
        if (RANK[role] <= RANK[c.role]) continue;
        const r = await h.call(c.method, c.path, { ...init, token: h.tokens[role] });
        expect([401, 403]).not.toContain(r.status);
      }

      if (c.bad !== undefined) {
        const bad = await h.call(c.method, c.bad.path ?? c.path, {
          token: h.tokens[c.role],
          ...(c.bad.body === undefined ? init : { body: c.bad.body }),
        });
        expect(bad.status, JSON.stringify(bad.body)).toBe(400);
        expect(bad.body.code).toBe('E_API_BAD_REQUEST');
        expect(bad.body.field).toBe(c.bad.field);
        expect(bad.body.message).toContain(c.bad.field.split('.').pop());
      }
    });
  }
});

describe('route behaviour', () => {
  it('returns the trader data and passes the caller to state-changing calls', async () => {
    const me = await h.call('GET', '/api/me', { token: h.tokens.trader });
    expect(me.body).toMatchObject({ sub: 'theo', role: 'trader' });
    const orders = await h.call('GET', '/api/orders?status=filled', { token: h.tokens.viewer });
    expect(orders.body.map((o: { clientOrderId: string }) => o.clientOrderId)).toEqual(['trader-1-000001']);
    const detail = await h.call('GET', '/api/orders/trader-1-000001', { token: h.tokens.viewer });
    expect(detail.body.fills).toHaveLength(1);
    expect((await h.call('GET', '/api/orders/nope', { token: h.tokens.viewer })).status).toBe(404);

    const engaged = await h.call('POST', '/api/kill-switch', {
      token: h.tokens.admin,
      body: { mode: 'HALTED', reason: 'operator test' },
    });
    expect(engaged.body.mode).toBe('HALTED');
    expect((await h.call('GET', '/api/risk', { token: h.tokens.viewer })).body.mode).toBe('HALTED');
    const call = h.trader.calls.filter((x) => x.method === 'engageKillSwitch').at(-1);
    expect(call?.args[0]).toMatchObject({ mode: 'HALTED', actor: { sub: 'ada', role: 'admin' } });

    const params = await h.call('PUT', '/api/strategy/params', { token: h.tokens.trader, body: { cooldownMs: 75 } });
    expect(params.body.cooldownMs).toBe(75);
    const unknown = await h.call('PUT', '/api/strategy/params', { token: h.tokens.trader, body: { nope: 1 } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.field).toBe('body.nope');
    expect(h.trader.silences.at(-1)?.matchers).toEqual({ alertname: 'feed-stale' });
    expect((await h.call('POST', '/api/alerts/zzz/ack', { token: h.tokens.trader })).status).toBe(404);
  });

  it('answers 400 for malformed JSON, 404 for unknown routes, echoes a valid X-Request-Id', async () => {
    const malformed = await h.call('PUT', '/api/strategy/params', {
      token: h.tokens.trader,
      rawBody: '{"threshold":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect((await h.call('GET', '/api/nothing', { token: h.tokens.viewer })).status).toBe(404);
    const r = await h.call('GET', '/api/me', { token: h.tokens.viewer, headers: { 'x-request-id': 'req-abc.1' } });
    expect(r.headers.get('x-request-id')).toBe('req-abc.1');
    const odd = await h.call('GET', '/api/me', { token: h.tokens.viewer, headers: { 'x-request-id': 'bad id <>' } });
    expect(odd.headers.get('x-request-id')).not.toBe('bad id <>');
  });

  it('rejects expired tokens, tokens for another audience and tokens without a role', async () => {
    const expired = await issueToken({ sub: 'old', role: 'admin', secret: SECRET, ttl: -60 });
    const r1 = await h.call('GET', '/api/me', { token: expired });
    expect(r1.status).toBe(401);
    expect(r1.body.message).toMatch(/expired/);
    const otherAud = await issueToken({ sub: 'x', role: 'admin', secret: SECRET, audience: 'someone-else' });
    expect((await h.call('GET', '/api/me', { token: otherAud })).status).toBe(401);
    const noRole = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setIssuer('cryptoscalp-trader')
      .setAudience('cryptoscalp-api')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect((await h.call('GET', '/api/me', { token: noRole })).status).toBe(401);
    expect((await h.call('GET', '/api/me', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
  });

  it('limits the request body size with 413 and audits the refused change', async () => {
    const big = {
      comment: 'x'.repeat(400),
      threshold: 0.1,
      ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, 'y'.repeat(60)])),
    };
    const r = await h.call('PUT', '/api/strategy/params', { token: h.tokens.trader, body: big });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('E_API_BODY_TOO_LARGE');
    const rows = await auditRows('strategy.params.update');
    expect(rows.some((x) => x.outcome === 'failure' && x.detail.status === 413)).toBe(true);
  });

  it('serves read endpoints from the cache while fresh', async () => {
    cache.entries.clear();
    const first = await h.call('GET', '/api/pnl', { token: h.tokens.viewer });
    expect(first.headers.get('x-cache')).toBe('miss');
    const before = h.trader.pnlNow;
    h.trader.pnlNow = { ...before, total: 999 };
    const second = await h.call('GET', '/api/pnl', { token: h.tokens.viewer });
    expect(second.headers.get('x-cache')).toBe('hit');
    expect(second.body.total).toBe(before.total);
    cache.entries.clear();
    expect((await h.call('GET', '/api/pnl', { token: h.tokens.viewer })).body.total).toBe(999);
    h.trader.pnlNow = before;
  });

  it('serves @cryptoscalp/health on the same server: probes public, details behind a viewer token', async () => {
    const live = await h.call('GET', '/health/liveness');
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'pass' });
    expect(live.headers.get('content-type')).toMatch(/application\/health\+json/);
    expect(live.headers.get('x-request-id')).toBeTruthy();
    expect(live.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await h.call('GET', '/health/readiness')).status).toBe(200);
    expect((await h.call('GET', '/health')).status).toBe(200);
    expect((await h.call('GET', '/health/startup')).status).toBe(200);
    expect((await h.call('HEAD', '/health/readiness')).status).toBe(200);
    for (const path of ['/health/metrics', '/health/components', '/health/status']) {
      const r = await h.call('GET', path);
      expect(r.status, path).toBe(401);
      expect(r.body.code).toBe('E_API_UNAUTHORIZED');
    }
    const detail = await h.call('GET', '/health/components', { token: h.tokens.viewer });
    expect(detail.status).toBe(200);
    expect(Object.keys(detail.body.checks)).toContain('dependency:responseTime');
    expect((await h.call('GET', '/health/nope', { token: h.tokens.viewer })).status).toBe(404);
  });

  it('serves /metrics with the source content type, for a viewer token', async () => {
    const denied = await h.call('GET', '/metrics');
    expect(denied.status).toBe(401);
    expect(metricsCalls).toBe(0);
    const r = await h.call('GET', '/metrics', { token: h.tokens.viewer });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.body).toBe('trader_up 1\n');
    expect(r.headers.get('cache-control')).toBe('no-store');
    const viaHealth = await h.call('GET', '/health/metrics', { token: h.tokens.viewer });
    expect(viaHealth.status).toBe(200);
    expect(viaHealth.body).toBe('trader_up 1\n');
  });

  it('sets the security headers (helmet): the OWASP API set on JSON, the document set on the dashboard', async () => {
    for (const r of [
      await h.call('GET', '/api/me', { token: h.tokens.viewer }),
      await h.call('GET', '/api/me'),
      await h.call('GET', '/api/nothing'),
      await h.call('GET', '/api/openapi.json'),
      await h.call('GET', '/health/liveness'),
    ]) {
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(r.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
      expect(r.headers.get('x-request-id')).toBeTruthy();
      expect(r.headers.get('strict-transport-security')).toBeNull();
      expect(r.headers.get('referrer-policy')).toBeNull();
    }
    const page = await fetch(`${h.api.url}/`);
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'self';script-src 'self';style-src 'self';img-src 'self' data:;connect-src 'self';frame-ancestors 'none'",
    );
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    await page.text();
    const me = await h.call('GET', '/api/me', { token: h.tokens.viewer });
    expect(me.headers.get('cache-control')).toBe('no-store');
    // Rate-limit headers only on a 429 (see api-rate-limit.test.ts).
    expect(me.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('serves the OpenAPI document listing every route with its role', async () => {
    const r = await h.call('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    for (const route of ROUTES) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      const op = r.body.paths[path]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${path}`).toBeDefined();
      expect(op['x-required-role']).toBe(route.role);
      expect(op.security).toEqual([{ bearerAuth: [] }]);
    }
    expect(r.body.paths['/api/stream']).toBeDefined();
    expect(
      r.body.paths['/api/kill-switch'].post.requestBody.content['application/json'].schema.properties.mode.enum,
    ).toEqual(['REDUCING', 'HALTED']);
    const etag = r.headers.get('etag') as string;
    expect((await h.call('GET', '/api/openapi.json', { headers: { 'if-none-match': etag } })).status).toBe(304);
  });

  it('serves the dashboard with ETag, revalidation and immutable hashed assets', async () => {
    const page = await fetch(`${h.api.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    const js = html.match(/src="(\/assets\/app\.[0-9a-f]{10}\.js)"/)?.[1];
    const css = html.match(/href="(\/assets\/style\.[0-9a-f]{10}\.css)"/)?.[1];
    expect(js).toBeDefined();
    expect(css).toBeDefined();
    // Nothing loaded from elsewhere (the only absolute URL is the chart library's attribution link, an <a>).
    expect(html).not.toMatch(/<(script|link|img|iframe)\b[^>]*\b(src|href)="(https?:)?\/\//);
    expect(html.match(/https?:\/\/[^"]+/g)).toEqual(['https://www.tradingview.com/']);
    const etag = page.headers.get('etag') as string;
    const again = await fetch(`${h.api.url}/`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const asset = await fetch(h.api.url + js);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    const assetEtag = asset.headers.get('etag') as string;
    expect((await fetch(h.api.url + js, { headers: { 'if-none-match': `W/${assetEtag}, "x"` } })).status).toBe(304);
    const plain = await fetch(`${h.api.url}/assets/style.css`);
    expect(plain.headers.get('cache-control')).toBe('public, max-age=60, must-revalidate');
    expect((await fetch(`${h.api.url}/assets/nope.js`)).status).toBe(404);
  });
});

describe('audit log', () => {
  it('records sensitive operations with actor, request id and outcome', async () => {
    await h.call('POST', '/api/kill-switch/release', {
      token: h.tokens.admin,
      body: { reason: 'all clear' },
      headers: { 'x-request-id': 'rel-42' },
    });
    const rows = await auditRows();
    const find = (action: string, outcome: string) => rows.filter((r) => r.action === action && r.outcome === outcome);
    expect(find('kill-switch.engage', 'success').map((r) => r.actor)).toContain('ada');
    expect(find('kill-switch.engage', 'denied').map((r) => r.actor)).toEqual(expect.arrayContaining(['vera', 'theo']));
    expect(find('kill-switch.engage', 'failure')[0]?.detail.field).toBe('body.mode');
    const release = find('kill-switch.release', 'success').find((r) => r.request_id === 'rel-42');
    expect(release).toMatchObject({ actor: 'ada', role: 'admin', ip: '127.0.0.1' });
    expect(release.detail.request.body).toEqual({ reason: 'all clear' });
    expect(release.at).toBeInstanceOf(Date);
    expect(find('strategy.params.update', 'success').length).toBeGreaterThan(0);
    expect(find('strategy.params.update', 'failure').some((r) => r.detail.status === 400)).toBe(true);
    expect(find('alert.silence', 'success')).toHaveLength(1);
    expect(find('alert.ack', 'success').length).toBeGreaterThan(0);
    expect(find('order.cancel', 'success')).toHaveLength(1);
    const logins = rows.filter((r) => r.action === 'auth.login');
    expect(logins.map((r) => r.actor)).toEqual(expect.arrayContaining(['vera', 'theo', 'ada']));
    expect(logins.find((r) => r.actor === 'ada')).toMatchObject({ role: 'admin', outcome: 'success' });
    expect(logins.find((r) => r.actor === 'ada').detail.tokenId).toMatch(/^[0-9a-f]{16}$/);
    const authFailures = rows.filter((r) => r.action === 'auth.failure');
    expect(authFailures.length).toBeGreaterThan(0);
    expect(authFailures[0]).toMatchObject({ actor: 'anonymous', outcome: 'denied' });
    expect(JSON.stringify(rows)).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
    const viaApi = await h.call('GET', '/api/audit?action=kill-switch.release&limit=5', { token: h.tokens.admin });
    expect(viaApi.body[0]).toMatchObject({ action: 'kill-switch.release', requestId: 'rel-42' });
  });

  it('is append-only in the database: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const table = `"${h.schema}".audit_log`;
    await expect(h.pool.query(`UPDATE ${table} SET actor = 'eve'`)).rejects.toThrow(/append-only/);
    await expect(h.pool.query(`DELETE FROM ${table}`)).rejects.toThrow(/append-only/);
    await expect(h.pool.query(`TRUNCATE ${table}`)).rejects.toThrow(/append-only/);
    const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE actor = 'eve'`);
    expect(rows[0].n).toBe(0);
    expect((await auditRows()).length).toBeGreaterThan(10);
  });

  it('refuses to start on a port already in use, naming the option', async () => {
    const port = Number(new URL(h.api.url).port);
    await expect(startHarness({ port }, { pool: h.pool, schema: h.schema, trader: h.trader })).rejects.toMatchObject({
      code: 'E_API_INVALID_OPTION',
      field: 'port',
    });
  });

  it('a second instance on the same schema re-creates nothing and keeps appending', async () => {
    const second = await startHarness({}, { pool: h.pool, schema: h.schema, trader: h.trader });
    try {
      const before = (await auditRows('kill-switch.engage')).length;
      await second.call('POST', '/api/kill-switch', {
        token: second.tokens.admin,
        body: { mode: 'REDUCING', reason: 'b' },
      });
      expect((await auditRows('kill-switch.engage')).length).toBe(before + 1);
    } finally {
      await second.close();
    }
  });
});
