import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { OpenLoopLoad } from '../rehearsal/open-loop-load.js';
import { formatTable, type PhaseResult, rehearse } from '../rehearsal/rehearse.js';

/**
 * A loopback HTTP server whose handler also gets the index of the request on its connection (1: the first) and of
 * the connection (1: the first).
 */
async function serve(
  handle: (nth: number, res: import('node:http').ServerResponse, connection: number) => void,
): Promise<Server> {
  const perSocket = new WeakMap<object, [number, number]>();
  let connections = 0;
  const server = createServer((req, res) => {
    const [connection, previous] = perSocket.get(req.socket) ?? [++connections, 0];
    perSocket.set(req.socket, [connection, previous + 1]);
    handle(previous + 1, res, connection);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}
const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/positions`;
const close = (server: Server) => {
  server.closeAllConnections();
  return new Promise((r) => server.close(r));
};
/** Runs the generator on one connection at 50 requests/s for `ms`. */
async function drive(server: Server, ms = 1_000) {
  const load = new OpenLoopLoad({ url: urlOf(server), tokens: ['t'], ratePerSecond: 50, connections: 1 });
  load.start();
  await new Promise((r) => setTimeout(r, ms));
  return load.stop();
}

describe('open-loop load generator', () => {
  it('retries a GET once a reused connection closes before any byte of its answer, and counts it apart', async () => {
    // Every other connection (of the first 15) is closed under its second request, unanswered: what a reloading
    // nginx does to a kept-alive connection a request was just written on. The others answer their second request
    // with `Connection: close`, so the next connection is again one that drops. One connection at a time and a low
    // rate: a retry goes on a fresh connection, and if it waited behind another request there, that one keeps it.
    const server = await serve((nth, res, connection) => {
      if (nth === 2 && connection % 2 === 1 && connection <= 15) {
        res.socket?.destroy();
        return;
      }
      if (nth === 2) res.setHeader('connection', 'close');
      res.end('[]');
    });
    try {
      const r = await drive(server, 1_500);
      expect(r.sent).toBeGreaterThan(40);
      expect(r.failed, JSON.stringify(r)).toBe(0);
      expect(r.answered).toBe(r.sent);
      expect(r.retried).toBeGreaterThanOrEqual(4);
    } finally {
      await close(server);
    }
  });

  it('does not retry on a fresh connection, and counts non-2xx answers as failed', async () => {
    const dropped = await serve((_nth, res) => res.socket?.destroy());
    const unavailable = await serve((_nth, res) => {
      res.statusCode = 503;
      res.end();
    });
    try {
      const d = await drive(dropped, 300);
      expect(d.sent).toBeGreaterThan(10);
      expect(d.retried).toBe(0);
      expect(d.failed).toBe(d.sent);
      expect(d.socketErrors.read).toBe(d.sent);
      const u = await drive(unavailable, 300);
      expect(u.failed).toBe(u.sent);
      expect(u.statuses[503]).toBe(u.sent);
      expect(u.retried).toBe(0);
    } finally {
      await Promise.all([close(dropped), close(unavailable)]);
    }
  });

  it('measures back-to-back windows with mark() without pausing the load, each request counted once', async () => {
    const server = await serve((_nth, res) => res.end('[]'));
    try {
      const load = new OpenLoopLoad({ url: urlOf(server), tokens: ['t'], ratePerSecond: 200, connections: 4 });
      load.start();
      await new Promise((r) => setTimeout(r, 500));
      const first = await load.mark();
      await new Promise((r) => setTimeout(r, 500));
      const second = await load.stop();
      for (const w of [first, second]) {
        expect(w.failed, JSON.stringify(w)).toBe(0);
        expect(w.answered).toBe(w.sent);
        // 200 requests/s over about half a second each (timers may run late on a busy machine, never early).
        expect(w.sent).toBeGreaterThanOrEqual(95);
        expect(w.seconds).toBeGreaterThanOrEqual(0.45);
      }
      // Scheduled back to back at 200/s: the two windows together hold every request sent in about 1 s.
      const seconds = first.seconds + second.seconds;
      expect(Math.abs(first.sent + second.sent - 200 * seconds)).toBeLessThanOrEqual(0.1 * 200 * seconds + 2);
    } finally {
      await close(server);
    }
  });

  it('names the field of a bad option', () => {
    expect(() => new OpenLoopLoad({ url: 'ftp://x', tokens: ['t'] })).toThrow(/url/);
    expect(() => new OpenLoopLoad({ url: 'http://x', tokens: [] })).toThrow(/tokens/);
    expect(() => new OpenLoopLoad({ url: 'http://x', tokens: ['t'], ratePerSecond: 0 })).toThrow(/ratePerSecond/);
  });
});

// The zero-downtime rehearsal in CI (`npm run test:deploy`, so `.ci/run`): real nginx (TLS) in front of two gateway
// processes and one engine on the local Redis and PostgreSQL, open-loop HTTP load through nginx on kept-alive
// connections at a fixed 1,000 requests/s and 100 live-stream clients, through a steady phase (the baseline of the
// run), a rolling restart of every gateway, a blue-green switch and a rollback. Every gateway it needs (the first
// set, the rolling restart's replacements, green, and the previous version for the rollback) starts side by side
// before the phases, so a phase holds only the switch and its drain. Each gateway then gets 3 s at 250 requests/s
// directly (as a deployment smoke-tests a new set before traffic is switched to it), and one load generator runs from
// 3 s of warm-up through nginx to the end, each phase a window of it. No capacity runs: the target is fixed. The long
// run, with the capacity baseline and replacements started under load: `npm run rehearsal -w @cryptoscalp/deploy`.

/** The goal: every phase at 1,000 requests/s. */
const RATE = 1000;

describe('zero-downtime rehearsal', () => {
  // On a timeout the rehearsal is still running: stop its processes by PID before the worker exits.
  const controller = new AbortController();
  let running: Promise<unknown> | undefined;
  afterAll(async () => {
    controller.abort();
    await Promise.race([running?.catch(() => undefined), new Promise((r) => setTimeout(r, 20_000))]);
  });

  it('rejects an unknown option by its name', async () => {
    await expect(rehearse({ gateway: 2 } as never)).rejects.toThrow(/gateway: unknown option/);
  });

  it('rolls, switches blue-green and rolls back at 1,000 requests/s with no failed request and no stream client lost', async () => {
    const once = async () => {
      const rehearsal = rehearse({
        gateways: 2,
        streamClients: 100,
        // 5 s of load before each action and 5 s after the stream clients are back: a phase whose gateways are
        // still behind then (a queue that has not drained) reads under the rate. The rate is answered requests over
        // the time to the last answer, so the last request's latency counts against 1 % of the phase: with 3 s holds
        // a 6 s steady phase whose last answer took 230 ms (p99 129 ms) read 964 requests/s.
        holdSeconds: 5,
        ratePerSecond: RATE,
        capacitySeconds: 0,
        warmupSeconds: 3,
        directWarmupSeconds: 3,
        replacementsFirst: true,
        signal: controller.signal,
        ...(process.env.REHEARSAL_VERBOSE ? { log: (line: string) => console.error(`rehearsal: ${line}`) } : {}),
      });
      running = rehearsal;
      const report = await rehearsal;
      console.log(formatTable(report));
      console.log(
        `load average at the end: ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
      return report;
    };
    let report = await once();
    // The steady phase is the control: no gateway moves. When even it misses the rate, the machine could not carry
    // 1,000 requests/s at that moment (seen once in four CI runs on 2 cores: 987 requests/s with every core busy and
    // 40 % more CPU per request than the other runs), so the run says nothing about the switches: it is repeated
    // once, and the repeat is judged whole (the first run's table is printed above it).
    const steady = report.phases.find((r) => r.phase === 'steady');
    if (steady !== undefined && steady.load.requestsPerSecond < 0.99 * RATE) {
      console.log(
        `steady phase at ${steady.load.requestsPerSecond.toFixed(1)} requests/s (${steady.load.failed} failed): the machine did not carry the rate without any change; repeating the rehearsal once`,
      );
      report = await once();
    }
    expect(report.load).toMatchObject({ mode: 'open-loop', targetPerSecond: RATE });
    const results = report.phases;
    expect(results.map((r) => r.phase)).toEqual(['steady', 'rolling restart', 'blue-green', 'rollback']);
    const by = (phase: PhaseResult['phase']) => results.find((r) => r.phase === phase) as PhaseResult;
    for (const r of results) {
      expect(r.load.failed, `${r.phase}: requests without a 2xx answer`).toBe(0);
      expect(r.load.answered, `${r.phase}: every request answered`).toBe(r.load.sent);
      // Open loop: requests go out at 1,000/s whatever the answers do, and the rate is what was answered until the
      // last answer, so a stall at the end of a phase stretches it. Within 1 % counts as reaching it, as in the
      // script: a phase paced at exactly 1,000 reads a hair under (999.7).
      expect(r.load.sent, `${r.phase}: load ran`).toBeGreaterThanOrEqual(RATE * 5 * 2);
      expect(r.load.requestsPerSecond, `${r.phase}: rate`).toBeGreaterThanOrEqual(0.99 * RATE);
      expect(r.streams.clients).toBe(100);
      expect(r.streams.lost, `${r.phase}: stream clients that lost messages or never came back`).toBe(0);
      // Every reconnect was answered explicitly: resumed from its offset, or told to resnapshot.
      expect(r.streams.resumed + r.streams.resnapshots, r.phase).toBe(r.streams.reconnects);
      expect(r.streams.messages, `${r.phase}: streams kept flowing`).toBeGreaterThan(0);
    }
    expect(by('steady').streams.reconnects, 'nothing moves the clients without a change').toBe(0);
    // The old gateways really went away: every stream client was moved at least once.
    expect(by('rolling restart').streams.reconnects).toBeGreaterThanOrEqual(100);
    expect(by('blue-green').streams.reconnects).toBeGreaterThanOrEqual(100);
    expect(by('rollback').streams.reconnects).toBeGreaterThanOrEqual(100);
  }, 400_000);
});
