import { spawn } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@cryptoscalp/testkit';
import { describe, expect, it } from 'vitest';
import { createHealthHandler, HEALTH_SHUTDOWN_CHANNEL, HealthRegistry } from '../../src/index.js';
import { get, serve } from './helpers.js';

/** GET over node:http with a keep-alive agent; resolves status, headers and body, rejects on socket errors. */
function call(agent: Agent, url: string): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('graceful shutdown under load', () => {
  it('flips readiness first, drops no request, finishes in-flight ones and closes idle keep-alive sockets', async () => {
    const health = new HealthRegistry({ shutdownDelayMs: 600, shutdownTimeoutMs: 8_000, eventLoopDelay: false });
    health.register({ name: 'dep', healthCheck: async () => ({ status: 'pass' }) }, { critical: true });
    const healthHandler = createHealthHandler(health);
    const served = await serve((req, res) =>
      healthHandler(req, res, () => {
        const delay = req.url === '/slow' ? 900 : 5;
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('done');
        }, delay);
      }),
    );
    served.server.keepAliveTimeout = 60_000;
    health.attach(served.server);
    const phases: Array<{ phase: string; at: number }> = [];
    const onPhase = (m: unknown) => phases.push({ phase: (m as { phase: string }).phase, at: Date.now() });
    diagnostics.subscribe(HEALTH_SHUTDOWN_CHANNEL, onPhase);
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const probeAgent = new Agent({ keepAlive: false });
    try {
      await waitFor(async () => (await call(probeAgent, `${served.url}/health/readiness`)).status === 200);
      // The load balancer: routes while readiness is 200, polls it every 20 ms.
      let routing = true;
      let flippedAt = 0;
      const lb = (async () => {
        while (routing) {
          const ready = await call(probeAgent, `${served.url}/health/readiness`);
          if (ready.status === 503) {
            flippedAt = Date.now();
            routing = false;
            expect(ready.body).toBe('{"status":"fail","output":"shutting down"}');
            const live = await call(probeAgent, `${served.url}/health/liveness`);
            expect(live.status).toBe(200);
            break;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      let ok = 0;
      let failed = 0;
      const errors: string[] = [];
      const worker = async () => {
        while (routing) {
          try {
            const res = await call(agent, `${served.url}/work`);
            if (res.status === 200 && res.body === 'done') ok++;
            else failed++;
          } catch (error) {
            failed++;
            errors.push((error as Error).message);
          }
        }
      };
      const workers = Array.from({ length: 24 }, worker);
      await new Promise((r) => setTimeout(r, 300));
      const shutdownStarted = Date.now();
      const report = health.shutdown('test');
      // A slow request started late in the drain is still in flight when the server stops accepting.
      await new Promise((r) => setTimeout(r, 400));
      const slow = call(agent, `${served.url}/slow`);
      await Promise.all([...workers, lb]);
      const slowResult = await slow;
      const result = await report;

      expect(errors).toEqual([]);
      expect(failed).toBe(0);
      expect(ok).toBeGreaterThan(50);
      expect(slowResult).toMatchObject({ status: 200, body: 'done', connection: 'close' });
      const closingAt = phases.find((p) => p.phase === 'closing')?.at ?? 0;
      expect(flippedAt).toBeGreaterThan(0);
      expect(flippedAt).toBeLessThan(closingAt);
      expect(closingAt - shutdownStarted).toBeGreaterThanOrEqual(550);
      expect(result.inFlightAtClose).toBeGreaterThanOrEqual(1);
      expect(result.forcedConnections).toBe(0);
      expect(result.clean).toBe(true);
      // Idle keep-alive sockets were closed at once, not after keepAliveTimeout (60 s).
      expect(result.durationMs).toBeLessThan(8_000);
      expect(phases.map((p) => p.phase)).toEqual(['draining', 'closing', 'cleanup', 'stopped']);
      expect(served.server.listening).toBe(false);
      await expect(call(probeAgent, `${served.url}/work`)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      diagnostics.unsubscribe(HEALTH_SHUTDOWN_CHANNEL, onPhase);
      agent.destroy();
      probeAgent.destroy();
      health.close();
      if (served.server.listening) await served.close();
    }
  });

  it('destroys requests that outlive shutdownTimeoutMs and reports the shutdown as not clean', async () => {
    const health = new HealthRegistry({
      shutdownDelayMs: 0,
      shutdownTimeoutMs: 200,
      eventLoopDelay: false,
      heap: false,
    });
    const served = await serve((_req, res) => {
      setTimeout(() => res.end('late'), 5_000).unref();
    });
    health.attach(served.server);
    const agent = new Agent({ keepAlive: true });
    try {
      const pending = call(agent, `${served.url}/hang`).catch((error: Error) => error);
      await waitFor(() => served.server.listening && health.stats().phase === 'running');
      await new Promise((r) => setTimeout(r, 50));
      const report = await health.shutdown();
      expect(report.forcedConnections).toBe(1);
      expect(report.clean).toBe(false);
      expect(await pending).toBeInstanceOf(Error);
      expect(() => health.attach(served.server)).toThrow(expect.objectContaining({ code: 'E_HEALTH_CLOSED' }));
    } finally {
      agent.destroy();
    }
  });

  it('on SIGTERM a real process drains (readiness 503, liveness 200), runs handlers and exits 0', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/signal-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /PORT \d+/.test(out), { timeoutMs: 30_000, what: `child start (${err})` });
      const port = Number(/PORT (\d+)/.exec(out)?.[1]);
      const base = `http://127.0.0.1:${port}/health`;
      await waitFor(async () => (await get(`${base}/readiness`)).status === 200);
      child.kill('SIGTERM');
      await waitFor(async () => (await get(`${base}/readiness`)).status === 503, { timeoutMs: 5_000 });
      expect((await get(`${base}/liveness`)).status).toBe(200);
      expect(await exited).toBe(0);
      expect(out).toContain('HANDLER_RAN');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
