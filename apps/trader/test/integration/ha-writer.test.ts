import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineLease } from '../../src/ha/engine-lease.js';
import { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/persistence/journal-writer.js';

// The journal writer of an active/standby engine on the local PostgreSQL (own schema): it writes only what the
// event stream committed, and nothing once its lease epoch is no longer the lease's.
const schema = uniqueName('trader_hawriter');
const db = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
const dir = mkdtempSync(join(tmpdir(), 'trader-hawriter-'));

afterAll(async () => {
  await db.query(`drop schema if exists ${schema} cascade`);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const cursor = async (instance: string) =>
  Number(
    (
      await db.query<{ last_seq: string }>(`select last_seq from ${schema}.writer_cursor where instance_id = $1`, [
        instance,
      ])
    ).rows[0]?.last_seq ?? 0,
  );

function journalWith(name: string, entries: number): { path: string; journal: Journal } {
  const path = join(dir, `${name}.jsonl`);
  const { journal } = Journal.open(path, { fsync: 'never' });
  for (let i = 0; i < entries; i++)
    journal.append('risk.state', { from: 'RUNNING', to: 'RUNNING', reason: `${i}`, by: 'rule' });
  return { path, journal };
}

describe('journal writer under active/standby', () => {
  it('writes nothing past the committed sequence, then catches up as it moves', async () => {
    const { path, journal } = journalWith('limit', 10);
    let committed = 6;
    const writer = new JournalWriter({
      db,
      schema,
      instanceId: 'limit',
      journalPath: path,
      flushIntervalMs: 20,
      writableSeq: () => committed,
    });
    await writer.start();
    await waitFor(async () => (await cursor('limit')) === 6, { timeoutMs: 5_000, what: 'cursor at 6' });
    // Live entries past the commit point wait too.
    writer.enqueue(journal.append('risk.state', { from: 'RUNNING', to: 'RUNNING', reason: 'live', by: 'rule' }));
    await writer.flush();
    expect(await cursor('limit')).toBe(6);
    committed = 11;
    await waitFor(async () => (await cursor('limit')) === 11, { timeoutMs: 5_000, what: 'cursor at 11' });
    await writer.close();
    journal.close();
  });

  it('writes nothing once another engine took the lease (the fence in its transaction)', async () => {
    const { path, journal } = journalWith('fenced', 3);
    const mine = new EngineLease({ db, schema, group: 'fenced', holder: 'old', ttlMs: 300 });
    const next = new EngineLease({ db, schema, group: 'fenced', holder: 'new', ttlMs: 60_000 });
    await mine.prepare();
    expect(await mine.tick()).toBe('active');
    const writer = new JournalWriter({
      db,
      schema,
      instanceId: 'fenced',
      journalPath: path,
      flushIntervalMs: 20,
      retryMs: 50,
      fence: mine.fence(),
    });
    await writer.start();
    await waitFor(async () => (await cursor('fenced')) === 3, { timeoutMs: 5_000, what: 'cursor at 3' });
    await new Promise((r) => setTimeout(r, 350));
    expect(await next.tick()).toBe('active');
    writer.enqueue(journal.append('risk.state', { from: 'RUNNING', to: 'RUNNING', reason: 'late', by: 'rule' }));
    await waitFor(() => writer.stats().failures > 0, { timeoutMs: 5_000, what: 'a refused batch' });
    expect(await cursor('fenced')).toBe(3);
    expect((await writer.healthCheck()).output).toMatch(/fenced: the engine lease fenced is at epoch 2/);
    await writer.close();
    journal.close();
  });
});
