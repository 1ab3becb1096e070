import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTraderCommand } from '../../src/cli/trader-command.js';
import { verifyAuditChain } from '../../src/http/audit-chain.js';
import { AuditLog } from '../../src/http/audit-log.js';

/**
 * The audit log's hash chain against the shared PostgreSQL (own schema): two writers (as two gateways would) append
 * concurrently and the chain verifies; a row changed or removed by a superuser who disables the append-only trigger is
 * found by `trader audit verify`.
 */
const schema = uniqueName('audit_chain');
let pool: pg.Pool;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: serviceUrls.postgres, max: 8 });
});

afterAll(async () => {
  await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await pool?.end();
});

async function verify(): Promise<{ code: number; report: Record<string, unknown>; text: string }> {
  const out: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l), env: {} };
  const db = ['--database-url', serviceUrls.postgres, '--schema', schema];
  const code = await runTraderCommand(['audit', 'verify', '--json', ...db], io);
  const textOut: string[] = [];
  await runTraderCommand(['audit', 'verify', ...db], {
    out: (l) => textOut.push(l),
    err: (l) => textOut.push(l),
    env: {},
  });
  return { code, report: JSON.parse(out[0] as string), text: textOut.join('\n') };
}

describe('tamper-evident audit log', () => {
  it('chains rows from concurrent writers and detects a row modified or removed directly in SQL', async () => {
    // A table from before the chain: its rows stay unchained, the chain starts after them.
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(`CREATE TABLE "${schema}".audit_log (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
      actor text NOT NULL, role text, action text NOT NULL, request_id text, ip text,
      outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')), detail jsonb NOT NULL DEFAULT '{}'::jsonb)`);
    await pool.query(`INSERT INTO "${schema}".audit_log (actor, action, outcome) VALUES ('old', 'legacy', 'success')`);

    const writers = [new AuditLog({ pool, schema }), new AuditLog({ pool, schema })];
    await Promise.all(writers.map((w) => w.init()));
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (writers[i % 2] as AuditLog).append({
          actor: `user${i}`,
          action: 'test.write',
          outcome: 'success',
          detail: { i, text: 'é\u0000"quoted"', nested: { b: 1, a: [1, 2] } },
        }),
      ),
    );
    expect(results.every((r) => r)).toBe(true);
    for (const w of writers) await w.close();

    const intact = await verify();
    expect(intact.code).toBe(0);
    expect(intact.report).toMatchObject({ ok: true, rows: 60, unchained: 1 });
    // Read in pages that split the chain: the link across a page boundary is checked too.
    expect(await verifyAuditChain(pool, schema, 7)).toEqual(intact.report);
    expect(intact.text).toMatch(/chain intact: 60 rows \(1 older unchained rows\); head \d+ [0-9a-f]{64}/);

    const { rows } = await pool.query(`SELECT id::text FROM "${schema}".audit_log WHERE actor = 'user17'`);
    const target = rows[0].id as string;
    // The application's role cannot change a row: the append-only trigger refuses.
    await expect(pool.query(`UPDATE "${schema}".audit_log SET actor = 'x' WHERE id = $1`, [target])).rejects.toThrow(
      /append-only/,
    );
    // A superuser can, by disabling the trigger: the chain shows it.
    const client = await pool.connect();
    try {
      await client.query(`ALTER TABLE "${schema}".audit_log DISABLE TRIGGER audit_log_append_only`);
      await client.query(`UPDATE "${schema}".audit_log SET detail = detail || '{"i": 999}' WHERE id = $1`, [target]);
      const modified = await verify();
      expect(modified.code).toBe(1);
      expect(modified.report).toMatchObject({ ok: false, broken: { id: target } });
      expect(modified.text).toContain(`chain BROKEN at row ${target}: hash does not match the row`);

      // Put it back (the hash covers the content, so the original content verifies again), then remove a row.
      await client.query(
        `UPDATE "${schema}".audit_log SET detail = detail - 'i' || jsonb_build_object('i', 17) WHERE id = $1`,
        [target],
      );
      expect((await verify()).code).toBe(0);
      await client.query(`DELETE FROM "${schema}".audit_log WHERE id = $1`, [target]);
      const removed = await verify();
      expect(removed.code).toBe(1);
      expect(String((removed.report.broken as { reason: string }).reason)).toContain('removed or inserted');
      expect(Number((removed.report.broken as { id: string }).id)).toBeGreaterThan(Number(target));
    } finally {
      await client.query(`ALTER TABLE "${schema}".audit_log ENABLE TRIGGER audit_log_append_only`).catch(() => {});
      client.release();
    }
  });

  it('refuses bad usage with exit 2', async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (l: string) => err.push(l), env: {} };
    expect(await runTraderCommand(['audit', 'check'], io)).toBe(2);
    expect(await runTraderCommand(['audit', 'verify', '--nope'], io)).toBe(2);
    expect(await runTraderCommand(['audit', 'verify'], io)).toBe(2);
    expect(err.join('\n')).toContain('needs a PostgreSQL URL');
  });
});
