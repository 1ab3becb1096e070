import { describe, expect, it } from 'vitest';
import { formatReport, runChaos } from '../src/chaos.js';

// The short seeded chaos run (`npm run chaos:short`): the composed system under about a minute of faults. Needs
// the build (`npm run build`): the engines and gateways run from apps/trader/dist.
describe('chaos suite, short seeded run', () => {
  it('every invariant holds and every fault recovers within 30 s (seed 1, 60 s of faults)', async () => {
    const report = await runChaos({
      seed: Number(process.env.CHAOS_SEED ?? 1),
      durationSec: Number(process.env.CHAOS_DURATION ?? 60),
      streamClients: 10,
      log: (line) => console.log(`chaos: ${line}`),
    });
    console.log(formatReport(report));
    expect(report.faults.length).toBeGreaterThan(0);
    expect(report.counts.orders).toBeGreaterThan(0);
    expect(report.invariants.filter((i) => !i.ok)).toEqual([]);
  }, 900_000);
});
