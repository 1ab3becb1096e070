import { performance } from 'node:perf_hooks';
import { waitFor } from '@cryptoscalp/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamHub } from '../../src/hub.js';
import { type ChildReport, FanoutChildren } from '../fixtures/fanout-children.js';

describe('StreamHub fan-out to many subscribers in separate processes', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it.each([
    [2_000, 2, 50],
    [10_000, 2, 10],
  ])(
    'serves %i subscribers (%i processes): every client receives every message, in order',
    async (clients, processes, messages) => {
      const perProcess = clients / processes;
      const hub = new StreamHub({ port: 0, heartbeatIntervalMs: 0 });
      cleanup.push(() => hub.close());
      await hub.ready();
      const children = FanoutChildren.spawn(processes);
      cleanup.push(() => children.exit());
      await children.connect(`ws://127.0.0.1:${hub.address()?.port}`, perProcess, 'fan', true);
      expect((hub.stats() as { clients: number }).clients).toBe(clients);
      for (let i = 0; i < messages; i++) {
        hub.publish('fan', { i, t: performance.timeOrigin + performance.now() });
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
      }
      let reports: ChildReport[] = [];
      await waitFor(
        async () => {
          reports = await children.report();
          return reports.every((r) => r.min === messages);
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'all clients received all messages' },
      );
      for (const r of reports) {
        expect(r.clients).toBe(perProcess);
        expect(r.max).toBe(messages);
        expect(r.outOfOrder).toBe(0);
        expect(r.latency.samples).toBe((perProcess / 10) * messages);
      }
      expect((hub.stats() as { framesSent: number }).framesSent).toBe(clients * messages);
    },
  );
});
