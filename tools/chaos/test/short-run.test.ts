import { describe, expect, it } from 'vitest';
import { type FaultKind, formatReport, runChaos } from '../src/chaos.js';

// The short seeded chaos run (`npm run chaos:short`, and `npm run test:chaos:ci` in `npm test`): the composed
// system under one seeded round of the faults that exercise every failover path (the active engine, the Redis
// primary, the PostgreSQL primary, the venue's feed and its clock). Needs the build (`npm run build`): the engines
// and gateways run from apps/trader/dist. CHAOS_FAULTS=all draws from every kind for CHAOS_DURATION seconds instead.
const CI_FAULTS: readonly FaultKind[] = ['engine-kill', 'redis-kill', 'pg-kill', 'feed-kill', 'clock-jump'];

describe('chaos suite, short seeded run', () => {
  it('every invariant holds and every fault recovers within 30 s (seed 1, one round of five faults)', async () => {
    const all = process.env.CHAOS_FAULTS === 'all';
    const report = await runChaos({
      seed: Number(process.env.CHAOS_SEED ?? 1),
      durationSec: Number(process.env.CHAOS_DURATION ?? (all ? 60 : 600)),
      ...(all ? {} : { faults: CI_FAULTS, maxFaults: CI_FAULTS.length }),
      streamClients: 10,
      log: (line) => console.log(`chaos: ${line}`),
    });
    console.log(formatReport(report));
    expect(report.counts.orders).toBeGreaterThan(0);
    if (!all) expect(new Set(report.faults.map((f) => f.fault))).toEqual(new Set(CI_FAULTS));
    expect(report.invariants.filter((i) => !i.ok)).toEqual([]);
  }, 900_000);
});
