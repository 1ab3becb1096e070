// Engine active/standby: how soon a standby trades after the active engine is SIGKILLed under trading, with the
// default strategy warm-up (200 samples). Method: a disposable redis-server with AOF (everysec), the local
// PostgreSQL (own schema per variant), two engine processes (`--role engine`, ha.enabled, their own data dirs, the
// built-in simulator). Each round waits until the active engine has had fills, SIGKILLs it, reads the time the
// standby acquired the lease from its log and the time of the new leader's first `order.submitted` in the event
// stream, then restarts the killed engine (it comes up as a standby) for the next round. Two variants in the same
// run: `warm` (defaults: the active engine journals its strategy state every ha.strategyStateMs = 1 s and the
// takeover restores it) and the baseline `cold` (TRADER_HA_STRATEGY_STATE_MS=0: the strategy warms up again after
// the takeover, the behaviour before the warm standby).
// Run: npx tsx apps/trader/bench/ha-takeover.ts   (BENCH_ROUNDS=3 kills per variant by default)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, startRedisServer, uniqueName, waitFor } from '@cryptoscalp/testkit';
import { Redis } from 'ioredis';
import { killTraderChildren, startTraderProcess, type TraderProcess } from '../test/integration/trader-process.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Round {
  leaseMs: number;
  firstOrderMs: number;
  takeoverMs: number;
}

interface StreamEntry {
  offset: number;
  ts: number;
  type: string;
}

async function streamEntries(redis: Redis, key: string): Promise<StreamEntry[]> {
  const rows = (await redis.xrange(`${key}:events:log`, '-', '+')) as [string, string[]][];
  const out: StreamEntry[] = [];
  for (const [id, fields] of rows) {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
    const data = JSON.parse(f.get('d') as string) as { k: string; entry?: { type: string } };
    if (data.k !== 'entry') continue;
    out.push({ offset: Number(id.split('-')[0]), ts: Number(f.get('t')), type: data.entry?.type as string });
  }
  return out;
}

async function activeGauge(base: string): Promise<number> {
  try {
    const m = /^cryptoscalp_trader_engine_active (\d)/m.exec(await (await fetch(`${base}/metrics`)).text());
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

async function variant(redisUrl: string, name: string, extraEnv: Record<string, string>): Promise<Round[]> {
  const schema = uniqueName(`bench_ha_${name}`);
  const key = `bench:${uniqueName('ha')}`;
  const root = mkdtempSync(join(tmpdir(), `bench-ha-${name}-`));
  const redis = new Redis(redisUrl);
  const env = {
    TRADER_BUS_REDIS_URL: redisUrl,
    DATABASE_URL: serviceUrls.postgres,
    TRADER_DATABASE_SCHEMA: schema,
    TRADER_BUS_KEY: key,
    TRADER_JWT_SECRET: 'ha-bench-secret-0123456789abcdef0123456789abcd',
    TRADER_HTTP_SHUTDOWN_DELAY_MS: '0',
    TRADER_INSTANCE_ID: 'hab',
    TRADER_HA_ENABLED: 'true',
    ...extraEnv,
  };
  const start = (dir: string) => {
    const p = startTraderProcess(['--role', 'engine', '--port', '0', '--data-dir', join(root, dir)], env);
    return { p, url: p.ready() };
  };
  const engines = new Map<string, { p: TraderProcess; url: string }>();
  const rounds: Round[] = [];
  try {
    for (const dir of ['a', 'b']) {
      const e = start(dir);
      engines.set(dir, { p: e.p, url: await e.url });
    }
    let after = 0;
    for (let round = 0; round < ROUNDS; round++) {
      let activeDir = '';
      await waitFor(
        async () => {
          for (const [dir, e] of engines) if ((await activeGauge(e.url)) === 1) activeDir = dir;
          return activeDir !== '';
        },
        { timeoutMs: 30_000, intervalMs: 100, what: 'an active engine' },
      );
      // Trading: fills from this leadership (and, warm, its strategy state journaled after them).
      await waitFor(
        async () => (await streamEntries(redis, key)).filter((s) => s.offset > after && s.type === 'fill').length >= 3,
        { timeoutMs: 60_000, intervalMs: 200, what: 'fills from the active engine' },
      );
      await new Promise((r) => setTimeout(r, 1_200));
      const active = engines.get(activeDir) as { p: TraderProcess; url: string };
      const standbyDir = activeDir === 'a' ? 'b' : 'a';
      const standby = engines.get(standbyDir) as { p: TraderProcess; url: string };
      const taken = (standby.p.output().match(/active engine: lease epoch/g) ?? []).length;
      const killedAt = Date.now();
      active.p.child.kill('SIGKILL');
      await active.p.exited;
      await waitFor(() => (standby.p.output().match(/active engine: lease epoch/g) ?? []).length > taken, {
        timeoutMs: 60_000,
        intervalMs: 20,
        what: 'takeover',
      });
      const lines = [...standby.p.output().matchAll(/acquired at (\d+), taken over in (\d+) ms/g)];
      const last = lines.at(-1) as RegExpMatchArray;
      const acquiredAt = Number(last[1]);
      const lastOld = Math.max(
        0,
        ...(await streamEntries(redis, key)).filter((s) => s.ts <= acquiredAt).map((s) => s.offset),
      );
      let firstOrderAt = 0;
      await waitFor(
        async () => {
          const fresh = (await streamEntries(redis, key)).filter(
            (s) => s.offset > lastOld && s.type === 'order.submitted',
          );
          firstOrderAt = fresh[0]?.ts ?? 0;
          return firstOrderAt > 0;
        },
        { timeoutMs: 60_000, intervalMs: 50, what: 'an order from the new leader' },
      );
      after = lastOld;
      const r = {
        leaseMs: acquiredAt - killedAt,
        firstOrderMs: Math.round(firstOrderAt - killedAt),
        takeoverMs: Number(last[2]),
      };
      rounds.push(r);
      console.log(
        `${name} round ${round + 1}: lease ${r.leaseMs} ms, takeover ${r.takeoverMs} ms, first order ${r.firstOrderMs} ms after the kill`,
      );
      // The killed engine comes back as a standby for the next round.
      const again = start(activeDir);
      engines.set(activeDir, { p: again.p, url: await again.url });
    }
  } finally {
    for (const e of engines.values()) await e.p.stop(5_000);
    redis.disconnect();
    rmSync(root, { recursive: true, force: true });
    const admin = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
    await admin.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await admin.close();
  }
  return rounds;
}

const range = (xs: number[]) => `${Math.min(...xs)} to ${Math.max(...xs)} ms (median ${median(xs)})`;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] });
try {
  const cold = await variant(server.url, 'cold', { TRADER_HA_STRATEGY_STATE_MS: '0' });
  const warm = await variant(server.url, 'warm', {});
  console.log(`\nSIGKILL of the active engine under trading, default warm-up (200 samples), ${ROUNDS} rounds each:`);
  console.log(
    `  cold (strategy state not journaled, the baseline): lease ${range(cold.map((r) => r.leaseMs))}; first order ${range(cold.map((r) => r.firstOrderMs))}`,
  );
  console.log(
    `  warm (defaults):                                    lease ${range(warm.map((r) => r.leaseMs))}; first order ${range(warm.map((r) => r.firstOrderMs))}`,
  );
  console.log(
    `  first order, warm/cold median: ${(median(warm.map((r) => r.firstOrderMs)) / median(cold.map((r) => r.firstOrderMs))).toFixed(2)}x`,
  );
} finally {
  await killTraderChildren();
  await server.stop();
}
