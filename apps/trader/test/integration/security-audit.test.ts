import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEntry, AuditLog } from '../../src/http/audit-log.js';
import { issueToken } from '../../src/http/tokens.js';
import { tempDirs } from '../temp-dir.js';
import { type Harness, SECRET, startHarness } from './api-harness.js';

/**
 * Probe finding 1: one NUL character (PostgreSQL refuses it in text and jsonb) used to stop audit writes for good.
 * Against the shared PostgreSQL, each test in its own schema.
 */
const tempDir = tempDirs('security-audit-');
let pool: pg.Pool;
const schemas: string[] = [];

beforeAll(() => {
  pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 4 });
});

afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
  await pool?.end();
});

const schema = (): string => {
  const s = uniqueName('sec_audit');
  schemas.push(s);
  return s;
};

const deadLetters = (path: string): { reason: string; entry: AuditEntry }[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('audit rows with NUL characters (probe finding 1)', () => {
  let h: Harness;
  afterAll(async () => {
    await h?.close();
  });

  it('writes them escaped, through a request body, a cancel reason and a token subject, and the rows behind them too', async () => {
    h = await startHarness({}, { pool, schema: schema() });
    const table = `"${h.schema}".audit_log`;
    const params = await h.call('PUT', '/api/strategy/params', { token: h.tokens.trader, body: { note: 'a\u0000b' } });
    expect(params.status).toBe(400);
    const cancel = await h.call('POST', '/api/orders/o-1/cancel', {
      token: h.tokens.trader,
      body: { reason: 'x\u0000y\ud800' },
    });
    expect([200, 404]).toContain(cancel.status);
    const nulSub = await issueToken({ sub: 'ev\u0000il', role: 'viewer', secret: SECRET });
    expect((await h.call('GET', '/api/me', { token: nulSub })).status).toBe(200);
    const kill = await h.call('POST', '/api/kill-switch', {
      token: h.tokens.admin,
      body: { mode: 'HALTED', reason: 'after the NULs' },
    });
    expect(kill.status).toBe(200);

    // The login row is written without the response waiting for it.
    const read = async () => (await pool.query(`SELECT actor, action, detail FROM ${table} ORDER BY id`)).rows;
    await waitFor(async () => (await read()).some((r) => r.action === 'auth.login' && r.actor === 'ev\\u0000il'), {
      timeoutMs: 10_000,
      what: 'login row of the NUL subject',
    });
    const rows = await read();
    const byAction = (a: string) => rows.filter((r) => r.action === a);
    expect(byAction('strategy.params.update')[0].detail.request.body.note).toBe('a\\u0000b');
    expect(byAction('order.cancel')[0].detail.request.body.reason).toBe('x\\u0000y\\ud800');
    expect(rows.some((r) => r.action === 'auth.login' && r.actor === 'ev\\u0000il')).toBe(true);
    expect(byAction('kill-switch.engage')).toHaveLength(1);
    expect(h.api.stats().audit).toMatchObject({ pending: 0, dropped: 0, deadLettered: 0 });
    expect((await h.api.healthCheck()).status).toBe('pass');
  });
});

describe('audit writer robustness (probe finding 1)', () => {
  it('sets a row PostgreSQL refuses for its data aside in the dead-letter file; the rows behind it are written', async () => {
    const file = join(tempDir(), 'dead.jsonl');
    const logged: string[] = [];
    const audit = new AuditLog({ pool, schema: schema(), deadLetterPath: file, log: (l) => logged.push(l) });
    await audit.init();
    // Violates the table's CHECK (SQLSTATE 23514): refused whatever happens, so it must not block the queue.
    const poison = { actor: 'p', action: 'poison', outcome: 'bogus' } as unknown as AuditEntry;
    expect(await audit.append(poison)).toBe(false);
    for (const actor of ['a', 'b', 'c'])
      expect(await audit.append({ actor, action: 'x', outcome: 'success' })).toBe(true);
    expect((await audit.recent(10)).map((r) => r.actor)).toEqual(['c', 'b', 'a']);
    await audit.close();
    expect(audit.pending).toBe(0);
    expect(audit.deadLettered).toBe(1);
    expect(audit.dropped).toBe(0);
    const [line] = deadLetters(file);
    expect(line?.entry.action).toBe('poison');
    expect(line?.reason).toMatch(/23514/);
    expect(logged.join('\n')).toMatch(/poison by p set aside/);
  });

  it('a poison row already queued (database away) is set aside when the queue drains, in order', async () => {
    const file = join(tempDir(), 'dead.jsonl');
    const audit = new AuditLog({ pool, schema: schema(), deadLetterPath: file, retryIntervalMs: 50, log: () => {} });
    // Not initialised yet: rows queue, then init() flushes them in order.
    const rows: AuditEntry[] = [
      { actor: 'first', action: 'x', outcome: 'success' },
      { actor: 'p', action: 'poison', outcome: 'bogus' as 'success' },
      { actor: 'last', action: 'x', outcome: 'success' },
    ];
    audit.append(rows[0] as AuditEntry, 0);
    audit.append(rows[1] as AuditEntry, 0);
    audit.append(rows[2] as AuditEntry, 0);
    await audit.init();
    await waitFor(() => audit.pending === 0, { timeoutMs: 10_000, what: 'queue drained' });
    expect((await audit.recent(10)).map((r) => r.actor)).toEqual(['last', 'first']);
    await audit.close();
    expect(deadLetters(file).map((l) => l.entry.action)).toEqual(['poison']);
  });

  it('keeps rows in order while the database is unreachable, and writes them to the dead-letter file at shutdown', async () => {
    const file = join(tempDir(), 'dead.jsonl');
    const port = await freePort();
    const away = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/test`, max: 1 });
    away.on('error', () => {});
    const logged: string[] = [];
    const audit = new AuditLog({
      pool: away,
      schema: schema(),
      deadLetterPath: file,
      maxPending: 2,
      retryIntervalMs: 50,
      log: (l) => logged.push(l),
    });
    await expect(audit.init()).rejects.toThrow();
    for (const actor of ['a', 'b', 'c'])
      expect(await audit.append({ actor, action: 'x', outcome: 'success' })).toBe(false);
    // A connection failure is retried, never set aside: two wait (maxPending), the third goes to the file.
    await new Promise((r) => setTimeout(r, 200));
    expect(audit.pending).toBe(2);
    await audit.close();
    // Late rows (a request finishing during shutdown) go straight to the file.
    expect(await audit.append({ actor: 'late', action: 'x', outcome: 'success' })).toBe(false);
    await waitFor(() => audit.deadLettered === 4, { timeoutMs: 5_000, what: 'late row set aside' });
    await away.end();
    expect(deadLetters(file).map((l) => [l.entry.actor, l.reason.split(' (')[0]])).toEqual([
      ['c', 'audit queue full'],
      ['a', 'not written before shutdown'],
      ['b', 'not written before shutdown'],
      ['late', 'appended after close'],
    ]);
    expect(audit.dropped).toBe(0);
    expect(logged).toHaveLength(4);
  });
});
