import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { exited, freePort, waitFor } from '@cryptoscalp/testkit';
import { Gauge } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type AlertEvent, Monitoring, WebhookNotifier } from '../../src/index.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Monitoring whose one rule fires at once and notifies `hook`; `events` collects its alert events. */
function firing(hook: WebhookNotifier): { m: Monitoring; events: AlertEvent[] } {
  const m = new Monitoring({
    defaultMetrics: false,
    systemMetrics: false,
    tracing: false,
    alerting: {
      evaluationInterval: 20,
      rules: [{ name: 'Always', condition: { type: 'threshold', metric: 'x_value', op: '>', value: 0 } }],
      notifiers: [hook],
      routes: [{ notifiers: [hook.name], groupWait: 0 }],
    },
  });
  cleanups.push(() => m.close({ drainTimeoutMs: 100 }));
  const events: AlertEvent[] = [];
  m.alerts.onEvent((e) => events.push(e));
  new Gauge({ name: 'x_value', help: 'x', registers: [m.registry] }).set(1);
  return { m, events };
}

describe('Monitoring.close() while a notification is being delivered', () => {
  it('resolves within drainTimeoutMs against a webhook that never answers, aborting the request in flight', async () => {
    const requests: IncomingMessage[] = [];
    const server: Server = createServer((req) => {
      requests.push(req); // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    cleanups.push(() => server.closeAllConnections());
    const port = (server.address() as AddressInfo).port;
    const hook = new WebhookNotifier({
      url: `http://127.0.0.1:${port}/`,
      delivery: { maxAttempts: 100, timeoutMs: 60_000 },
    });
    const { m, events } = firing(hook);
    await waitFor(() => requests.length === 1, { timeoutMs: 10_000, what: 'the webhook request' });
    const aborted = new Promise<void>((resolve) => requests[0]!.socket.once('close', () => resolve()));
    const started = performance.now();
    await m.close({ drainTimeoutMs: 300 });
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThanOrEqual(290); // it did try to deliver for the drain time
    expect(ms).toBeLessThan(1_000);
    await aborted; // the fetch was aborted: the receiver saw its connection close
    await waitFor(() => events.some((e) => e.type === 'notification_failed'));
    expect(events.find((e) => e.type === 'notification_failed')?.message).toMatch(/gave up after 1 attempt/);
  });

  it('a process whose last work is close() during retries against a refused port exits 0 in time', async () => {
    const port = await freePort(); // nothing listens: every attempt is ECONNREFUSED
    const fixture = fileURLToPath(new URL('./fixtures/close-while-retrying.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    try {
      await exited(child, 30_000);
      expect(child.exitCode, out).toBe(0);
      const ms = Number(/closed (\d+)/.exec(out)?.[1]);
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(1_000);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('reports the reason of a refused connection in the give-up event, with the cause kept', async () => {
    const port = await freePort();
    const hook = new WebhookNotifier({
      url: `http://user:hunter2-secret@127.0.0.1:${port}/`,
      delivery: { maxAttempts: 2, backoffMs: 10 },
    });
    const errors: unknown[] = [];
    const send = hook.send.bind(hook);
    hook.send = (n, signal) =>
      send(n, signal).catch((e: unknown) => {
        errors.push(e);
        throw e;
      });
    const { events } = firing(hook);
    await waitFor(() => events.some((e) => e.type === 'notification_failed'), { timeoutMs: 10_000 });
    const message = events.find((e) => e.type === 'notification_failed')?.message ?? '';
    expect(message).toBe(
      `notifier webhook gave up after 2 attempt(s): POST to 127.0.0.1:${port} failed: fetch failed: ` +
        `connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    const cause = (errors[0] as Error).cause as Error;
    expect(cause.message).toBe('fetch failed');
    expect((cause.cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('sends credentials in the URL as Basic authorization (fetch refuses them in the URL)', async () => {
    const auth: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      auth.push(req.headers.authorization);
      res.statusCode = 204;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as AddressInfo).port;
    const { events } = firing(new WebhookNotifier({ url: `http://alerts:s%40cret@127.0.0.1:${port}/` }));
    await waitFor(() => events.some((e) => e.type === 'notified'), { timeoutMs: 10_000 });
    expect(auth[0]).toBe(`Basic ${Buffer.from('alerts:s@cret').toString('base64')}`);
  });
});
