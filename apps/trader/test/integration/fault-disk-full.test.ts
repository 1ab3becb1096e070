import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@cryptoscalp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObservabilityComponent } from '../../src/app/components/observability-component.js';
import { createTrader, type Trader } from '../../src/app/trader.js';
import { loadConfig } from '../../src/config/load-config.js';
import { issueToken } from '../../src/http/tokens.js';
import { parseJournal } from '../../src/journal/journal.js';

const SECRET = 'disk-full-test-secret-0123456789abcdef0123';

/** Mounts a small tmpfs (a real filesystem that really fills up); undefined when this machine refuses. */
function mountSmallTmpfs(dir: string, size: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Fills the filesystem of `dir` with one file until ENOSPC; returns its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler.bin');
  const fd = openSync(path, 'a');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  // Page-sized writes leave the last partial page; fill it byte by byte.
  try {
    for (;;) writeSync(fd, Buffer.alloc(1, 1));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  closeSync(fd);
  return path;
}

/** The journal ends with a complete entry: no torn line. */
function expectCleanJournal(path: string): { entries: number; bytes: number; text: string } {
  const text = readFileSync(path, 'utf8');
  const { entries, validBytes } = parseJournal(text, path);
  expect(validBytes).toBe(statSync(path).size);
  return { entries: entries.length, bytes: validBytes, text };
}

const root = mkdtempSync(join(tmpdir(), 'trader-disk-full-'));
const mounted = mountSmallTmpfs(root, '2m');
const traders: Trader[] = [];

afterAll(async () => {
  for (const t of traders) await t.stop('test end').catch(() => {});
  if (mounted) execFileSync('umount', [root]);
  rmSync(root, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!mounted)('fault: the journal disk is full (a real 2 MiB tmpfs)', () => {
  const dataDir = join(root, 'data');
  const journalPath = join(dataDir, 'journal.jsonl');
  let auth: Record<string, string>;
  const config = () =>
    loadConfig({
      env: {},
      overrides: {
        dataDir,
        symbols: ['BTCUSDT', 'ETHUSDT'],
        http: { port: 0, shutdownDelayMs: 0 },
        strategy: { warmupSamples: 30, limitOrderTtlMs: 300 },
        journal: { fsync: 'always' },
        database: { embedded: 'memory' },
      },
    });

  beforeAll(async () => {
    auth = { authorization: `Bearer ${await issueToken({ sub: 'test', role: 'viewer', secret: SECRET })}` };
  });

  async function journalCheck(base: string): Promise<{ status: string; output?: string }> {
    const body = (await (await fetch(`${base}/health/status`, { headers: auth })).json()) as {
      checks: Record<string, { status: string; output?: string }[]>;
    };
    const entry = Object.entries(body.checks).find(([k]) => k.startsWith('journal'))?.[1][0];
    return entry ?? { status: 'missing' };
  }

  it('stops opening positions, says why (health, readiness, alert), leaves no torn line, resumes when space returns', async () => {
    const t = createTrader({ config: config(), jwtSecret: SECRET, log: () => {} });
    traders.push(t);
    const ep = await t.start();
    const engine = t.engine();
    await waitFor(() => engine.counters.ordersSubmitted >= 2, { timeoutMs: 45_000, what: 'orders' });

    const filler = fill(root);
    const fullAt = Date.now();
    await waitFor(async () => (await journalCheck(ep.http)).status === 'fail', {
      timeoutMs: 10_000,
      what: 'journal health fail',
    });
    const detectMs = Date.now() - fullAt;
    expect((await journalCheck(ep.http)).output).toMatch(/ENOSPC/);
    expect((await fetch(ep.readiness)).status).toBe(503);
    expect((await fetch(`${ep.http}/health/liveness`)).status).toBe(200);
    expect(engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 0.001 })).toEqual({
      rejected: expect.stringMatching(/^journal: /),
    });
    const obs = t.component<ObservabilityComponent>('monitoring');
    await waitFor(() => obs.activeAlerts().some((a) => JSON.stringify(a).includes('JournalUnavailable')), {
      timeoutMs: 15_000,
      what: 'JournalUnavailable alert',
    });
    // While full: no order journaled, none sent; the file ends with a complete entry.
    const submitted = engine.counters.ordersSubmitted;
    const during = expectCleanJournal(journalPath);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(engine.counters.ordersSubmitted).toBe(submitted);
    expect(expectCleanJournal(journalPath).bytes).toBe(during.bytes);
    expect(engine.counters.journalFailures).toBeGreaterThan(0);

    unlinkSync(filler);
    const freedAt = Date.now();
    await waitFor(async () => (await journalCheck(ep.http)).status === 'pass', {
      timeoutMs: 10_000,
      what: 'journal health pass',
    });
    const recoverMs = Date.now() - freedAt;
    await waitFor(async () => (await fetch(ep.readiness)).status === 200, { timeoutMs: 5_000, what: 'ready' });
    await waitFor(() => engine.counters.ordersSubmitted > submitted, { timeoutMs: 30_000, what: 'trading resumed' });
    const after = expectCleanJournal(journalPath);
    expect(after.text).toMatch(/"type":"journal.recovered"/);
    console.log(`disk full: journal fail after ${detectMs} ms; resumed ${recoverMs} ms after space returned`);
    await t.stop('test');
  });

  it('a restart with the disk still full refuses with a clear message or starts refusing orders, and never damages the journal', async () => {
    const before = expectCleanJournal(journalPath);
    const filler = fill(root);
    try {
      const t = createTrader({ config: config(), jwtSecret: SECRET, log: () => {} });
      traders.push(t);
      let started = false;
      try {
        const ep = await t.start();
        started = true;
        expect((await journalCheck(ep.http)).status).toBe('fail');
        expect((await fetch(ep.readiness)).status).toBe(503);
        expect(t.engine().submit({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 0.001 })).toEqual({
          rejected: expect.stringMatching(/^journal: /),
        });
        await t.stop('test');
        console.log('restart on a full disk: started, refusing orders (journal fail, readiness 503)');
      } catch (e) {
        if (started) throw e;
        expect((e as Error).message).toMatch(/is full \(ENOSPC.*the journal was not touched/);
        console.log(`restart on a full disk: refused: ${(e as Error).message}`);
      }
      const now = expectCleanJournal(journalPath);
      expect(now.text).toBe(before.text);
    } finally {
      unlinkSync(filler);
    }
  });
});
