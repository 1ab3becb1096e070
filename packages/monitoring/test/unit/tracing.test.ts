import diagnostics_channel from 'node:diagnostics_channel';
import { waitFor } from '@cryptoscalp/testkit';
import { context, type Span, type SpanOptions, type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { CACHE_OPERATION_CHANNEL, DB_QUERY_CHANNEL, Monitoring } from '../../src/index.js';

interface Recorded {
  name: string;
  kind?: number;
  attributes: Record<string, unknown>;
  status?: { code: number; message?: string };
  exceptions: unknown[];
  ended: boolean;
}

/** A minimal in-memory Tracer: records what the bridge does with spans. */
class MemoryTracer {
  readonly spans: Recorded[] = [];
  startSpan(name: string, options: SpanOptions = {}): Span {
    const rec: Recorded = {
      name,
      kind: options.kind,
      attributes: { ...options.attributes },
      exceptions: [],
      ended: false,
    };
    this.spans.push(rec);
    const span = {
      setAttribute(k: string, v: unknown) {
        rec.attributes[k] = v;
        return span;
      },
      setStatus(s: { code: number; message?: string }) {
        rec.status = s;
        return span;
      },
      recordException(e: unknown) {
        rec.exceptions.push(e);
      },
      end() {
        rec.ended = true;
      },
    };
    return span as unknown as Span;
  }
}

const dbQuery = diagnostics_channel.tracingChannel(DB_QUERY_CHANNEL);
const cacheOp = diagnostics_channel.tracingChannel(CACHE_OPERATION_CHANNEL);
const open: Monitoring[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
  trace.disable();
});

describe('spans for channel-reported operations', () => {
  it('uses an injected tracer: db span with attributes, error status on failure', async () => {
    const tracer = new MemoryTracer();
    const m = new Monitoring({ defaultMetrics: false, systemMetrics: false, tracing: tracer });
    open.push(m);
    await m.ready;
    m.watch({ name: 'postgres' });
    const ctx = {
      component: 'postgres',
      operation: 'query',
      statement: 'SELECT 1',
      name: 'ping',
      role: 'read',
      host: 'db.local:5433',
      rowCount: 1,
    };
    await dbQuery.tracePromise(async () => 1, ctx);
    await expect(
      dbQuery.tracePromise(
        async () => {
          throw new Error('connection reset');
        },
        { component: 'postgres', operation: 'transaction', statement: 'BEGIN', role: 'write', host: 'db.local:5433' },
      ),
    ).rejects.toThrow();
    await dbQuery.tracePromise(async () => 1, {
      component: 'other',
      operation: 'query',
      statement: 'x',
      role: 'read',
      host: 'h:1',
    });
    expect(tracer.spans).toHaveLength(2);
    const [ok, failed] = tracer.spans as [Recorded, Recorded];
    expect(ok).toMatchObject({ name: 'db.query ping', kind: 2, ended: true });
    expect(ok.attributes).toMatchObject({
      'db.operation.name': 'query',
      'db.query.text': 'SELECT 1',
      'server.address': 'db.local',
      'server.port': 5433,
      'db.response.returned_rows': 1,
      'cryptoscalp.component': 'postgres',
    });
    expect(ok.status).toBeUndefined();
    expect(failed.name).toBe('db.transaction');
    expect(failed.status).toEqual({ code: 2, message: 'connection reset' });
    expect(failed.exceptions).toHaveLength(1);
    expect(failed.ended).toBe(true);
  });

  it('goes through the global @opentelemetry/api tracer once an SDK-like provider is registered', async () => {
    const tracer = new MemoryTracer();
    const provider: TracerProvider = { getTracer: () => tracer as unknown as Tracer };
    const m = new Monitoring({ defaultMetrics: false, systemMetrics: false });
    open.push(m);
    await m.ready;
    m.watch({ name: 'cache' });
    // Without a provider: the API's no-op tracer; nothing is recorded.
    cacheOp.traceSync(() => 1, { component: 'cache', operation: 'get', namespace: 'n' });
    expect(tracer.spans).toHaveLength(0);
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    // The SDK is noticed within a second.
    await waitFor(
      () => {
        cacheOp.traceSync(() => 1, { component: 'cache', operation: 'probe', namespace: 'n' });
        return tracer.spans.length > 0;
      },
      { timeoutMs: 5_000 },
    );
    tracer.spans.length = 0;
    const ctx: Record<string, unknown> = { component: 'cache', operation: 'get', namespace: 'books' };
    await context.with(context.active(), () =>
      cacheOp.tracePromise(async () => {
        ctx.tier = 'l2';
        ctx.hit = true;
      }, ctx),
    );
    expect(tracer.spans).toHaveLength(1);
    expect(tracer.spans[0]).toMatchObject({
      name: 'cache.get',
      ended: true,
      attributes: { 'cache.operation': 'get', 'cache.namespace': 'books', 'cache.tier': 'l2', 'cache.hit': true },
    });
  });

  it('starts no spans with tracing: false', async () => {
    const tracer = new MemoryTracer();
    trace.setGlobalTracerProvider({ getTracer: () => tracer as unknown as Tracer });
    const m = new Monitoring({ defaultMetrics: false, systemMetrics: false, tracing: false });
    open.push(m);
    await m.ready;
    m.watch({ name: 'cache' });
    cacheOp.traceSync(() => 1, { component: 'cache', operation: 'get', namespace: 'n' });
    expect(tracer.spans).toHaveLength(0);
  });
});
