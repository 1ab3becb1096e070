import diagnostics_channel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CACHE_BREAKER_CHANNEL,
  CACHE_OPERATION_CHANNEL,
  DB_FAILOVER_CHANNEL,
  DB_QUERY_CHANNEL,
  flattenStats,
  Monitoring,
  statsMetricName,
  WS_STATE_CHANNEL,
} from '../../src/index.js';
import { parseExposition, sample } from '../helpers.js';

const dbQuery = diagnostics_channel.tracingChannel(DB_QUERY_CHANNEL);
const cacheOp = diagnostics_channel.tracingChannel(CACHE_OPERATION_CHANNEL);

const open: Monitoring[] = [];
function make(): Monitoring {
  const m = new Monitoring({ defaultMetrics: false, systemMetrics: false, tracing: false });
  open.push(m);
  return m;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

const tick = () => new Promise((r) => setImmediate(r));

/** A database query exactly as the db-pool contract publishes it. */
function query(component: string, role: 'read' | 'write', rows: number, fail = false): Promise<unknown> {
  const ctx: Record<string, unknown> = {
    component,
    operation: 'query',
    statement: 'SELECT * FROM trades WHERE id = $1',
    role,
    host: '127.0.0.1:5432',
  };
  return dbQuery.tracePromise(async () => {
    await tick();
    if (fail) throw Object.assign(new Error('duplicate key'), { code: '23505' });
    ctx.rowCount = rows;
    return { rows: [] };
  }, ctx);
}

describe('watch(): channel-fed metrics', () => {
  it('subscribes only while something is watched, and unsubscribes on unwatch and close', async () => {
    const m = make();
    expect(dbQuery.start.hasSubscribers).toBe(false);
    const stop = m.watch({ name: 'postgres' });
    expect(m.subscribed).toBe(true);
    expect(dbQuery.start.hasSubscribers).toBe(true);
    expect(cacheOp.asyncEnd.hasSubscribers).toBe(true);
    expect(diagnostics_channel.hasSubscribers(WS_STATE_CHANNEL)).toBe(true);
    stop();
    stop();
    expect(dbQuery.start.hasSubscribers).toBe(false);
    expect(diagnostics_channel.hasSubscribers(WS_STATE_CHANNEL)).toBe(false);
    m.watch({ name: 'postgres' });
    expect(m.watching()).toEqual(['postgres']);
    expect(() => m.watch({ name: 'postgres' })).toThrow(
      expect.objectContaining({ code: 'E_MONITORING_DUPLICATE_COMPONENT' }),
    );
    expect(() => m.watch({ name: '' })).toThrow(expect.objectContaining({ field: 'component' }));
    await m.close();
    expect(dbQuery.start.hasSubscribers).toBe(false);
  });

  it('times db queries (tracePromise) into db_client_operation_duration_seconds with OTel-style labels', async () => {
    const m = make();
    m.watch({ name: 'postgres' });
    await query('postgres', 'read', 3);
    await query('postgres', 'read', 7);
    await query('postgres', 'write', 1);
    await expect(query('postgres', 'write', 0, true)).rejects.toThrow('duplicate key');
    await query('someone-else', 'read', 1); // not watched: ignored
    const text = parseExposition(await m.metrics());
    const base = { component: 'postgres', db_operation: 'query', host: '127.0.0.1:5432' };
    expect(sample(text, 'db_client_operation_duration_seconds_count', { ...base, role: 'read', error_type: '' })).toBe(
      2,
    );
    expect(sample(text, 'db_client_operation_duration_seconds_count', { ...base, role: 'write', error_type: '' })).toBe(
      1,
    );
    expect(
      sample(text, 'db_client_operation_duration_seconds_count', { ...base, role: 'write', error_type: '23505' }),
    ).toBe(1);
    expect(
      sample(text, 'db_client_operation_duration_seconds_sum', { ...base, role: 'read', error_type: '' }),
    ).toBeGreaterThan(0);
    expect(
      sample(text, 'db_client_response_returned_rows_sum', {
        component: 'postgres',
        db_operation: 'query',
        role: 'read',
      }),
    ).toBe(10);
    expect(
      sample(text, 'db_client_response_returned_rows_bucket', {
        component: 'postgres',
        db_operation: 'query',
        role: 'read',
        le: '5',
      }),
    ).toBe(1);
    expect([...text.keys()].some((k) => k.includes('someone-else'))).toBe(false);
  });

  it('times cache operations, synchronous (traceSync) and async, with tier and hit', async () => {
    const m = make();
    m.watch({ name: 'cache' });
    for (let i = 0; i < 3; i++) {
      const ctx: Record<string, unknown> = { component: 'cache', operation: 'get', namespace: 'books', key: 'k' };
      cacheOp.traceSync(() => {
        ctx.tier = 'l1';
        ctx.hit = true;
        return 'v';
      }, ctx);
    }
    const miss: Record<string, unknown> = { component: 'cache', operation: 'get', namespace: 'books', key: 'x' };
    await cacheOp.tracePromise(async () => {
      await tick();
      miss.tier = 'loader';
      miss.hit = false;
    }, miss);
    const boom: Record<string, unknown> = { component: 'cache', operation: 'set', namespace: 'books' };
    expect(() =>
      cacheOp.traceSync(() => {
        throw new TypeError('bad value');
      }, boom),
    ).toThrow('bad value');
    const text = parseExposition(await m.metrics());
    expect(
      sample(text, 'cache_operation_duration_seconds_count', {
        component: 'cache',
        operation: 'get',
        tier: 'l1',
        hit: 'true',
        error_type: '',
      }),
    ).toBe(3);
    expect(
      sample(text, 'cache_operation_duration_seconds_count', {
        component: 'cache',
        operation: 'get',
        tier: 'loader',
        hit: 'false',
        error_type: '',
      }),
    ).toBe(1);
    expect(
      sample(text, 'cache_operation_duration_seconds_count', {
        component: 'cache',
        operation: 'set',
        tier: '',
        hit: '',
        error_type: 'TypeError',
      }),
    ).toBe(1);
  });

  it('counts state channel events, tracks breaker state and ws connection state', async () => {
    const m = make();
    m.watch({ name: 'cache' });
    m.watch({ name: 'postgres' });
    m.watch({ name: 'ws-manager' });
    diagnostics_channel.channel(CACHE_BREAKER_CHANNEL).publish({ component: 'cache', state: 'open' });
    diagnostics_channel.channel(CACHE_BREAKER_CHANNEL).publish({ component: 'cache', state: 'halfOpen' });
    diagnostics_channel.channel(DB_FAILOVER_CHANNEL).publish({ component: 'postgres', from: 'a', to: 'b' });
    diagnostics_channel.channel(DB_FAILOVER_CHANNEL).publish({ component: 'unwatched' });
    diagnostics_channel.channel(DB_FAILOVER_CHANNEL).publish(null);
    const ws = diagnostics_channel.channel(WS_STATE_CHANNEL);
    ws.publish({ component: 'ws-manager', exchange: 'binance', endpoint: 'wss://a', from: 'idle', to: 'connecting' });
    ws.publish({ component: 'ws-manager', exchange: 'binance', endpoint: 'wss://a', from: 'connecting', to: 'open' });
    const text = parseExposition(await m.metrics());
    expect(sample(text, 'cryptoscalp_events_total', { channel: CACHE_BREAKER_CHANNEL, component: 'cache' })).toBe(2);
    expect(sample(text, 'cryptoscalp_events_total', { channel: DB_FAILOVER_CHANNEL, component: 'postgres' })).toBe(1);
    expect(sample(text, 'cryptoscalp_events_total', { channel: WS_STATE_CHANNEL, component: 'ws-manager' })).toBe(2);
    expect([...text.keys()].some((k) => k.includes('unwatched'))).toBe(false);
    const b = { channel: CACHE_BREAKER_CHANNEL, component: 'cache' };
    expect(sample(text, 'cryptoscalp_breaker_state', { ...b, state: 'half-open' })).toBe(1);
    expect(sample(text, 'cryptoscalp_breaker_state', { ...b, state: 'open' })).toBe(0);
    expect(sample(text, 'cryptoscalp_breaker_state', { ...b, state: 'closed' })).toBe(0);
    const w = { component: 'ws-manager', exchange: 'binance', endpoint: 'wss://a' };
    expect(sample(text, 'cryptoscalp_ws_connection_state', { ...w, state: 'open' })).toBe(1);
    expect(sample(text, 'cryptoscalp_ws_connection_state', { ...w, state: 'connecting' })).toBe(0);
  });
});

describe('watch(): stats() gauges', () => {
  it('flattens numeric and boolean leaves into stable snake_case names', () => {
    const flat = flattenStats({
      l1: { hitRate: 0.9, size: 10, name: 'lru' },
      healthy: true,
      list: [1, 2],
      nan: Number.NaN,
      nested: { a: { b: 1 } },
    });
    expect(Object.fromEntries(flat)).toEqual({ l1_hit_rate: 0.9, l1_size: 10, healthy: 1, nested_a_b: 1 });
    expect(statsMetricName('', 'pool_total')).toBe('cryptoscalp_stats_pool_total_value');
    expect(statsMetricName('app_', 'queries_count')).toBe('app_cryptoscalp_stats_queries_count_value');
    expect(statsMetricName('', 'pool_idle')).toBe('cryptoscalp_stats_pool_idle');
  });

  it('reads stats() at scrape time, adds new leaves, drops vanished ones, survives a throwing stats()', async () => {
    const m = make();
    let hits = 1;
    let extra = false;
    let broken = false;
    const cache = {
      name: 'cache',
      stats() {
        if (broken) throw new Error('stats broke');
        return { l1: { hits, hitRate: 0.5 }, ...(extra ? { l2: { connected: true } } : {}) };
      },
    };
    m.watch(cache);
    m.watch({ name: 'cache-b', stats: () => ({ l1: { hits: 100 } }) });
    hits = 5;
    let text = parseExposition(await m.metrics());
    expect(sample(text, 'cryptoscalp_stats_l1_hits', { component: 'cache' })).toBe(5);
    expect(sample(text, 'cryptoscalp_stats_l1_hits', { component: 'cache-b' })).toBe(100);
    expect(sample(text, 'cryptoscalp_stats_l1_hit_rate', { component: 'cache' })).toBe(0.5);
    extra = true;
    text = parseExposition(await m.metrics());
    expect(sample(text, 'cryptoscalp_stats_l2_connected', { component: 'cache' })).toBe(1);
    extra = false;
    text = parseExposition(await m.metrics());
    expect(sample(text, 'cryptoscalp_stats_l2_connected', { component: 'cache' })).toBeUndefined();
    broken = true;
    text = parseExposition(await m.metrics());
    expect(sample(text, 'cryptoscalp_monitoring_stats_errors_total', { component: 'cache' })).toBe(1);
    // The last good values stay until the component answers again.
    expect(sample(text, 'cryptoscalp_stats_l1_hits', { component: 'cache' })).toBe(5);
    m.unwatch('cache');
    text = parseExposition(await m.metrics());
    expect(sample(text, 'cryptoscalp_stats_l1_hits', { component: 'cache' })).toBeUndefined();
    expect(sample(text, 'cryptoscalp_stats_l1_hits', { component: 'cache-b' })).toBe(100);
  });
});

describe('watch(): subscribers never throw into the publisher', () => {
  it('ignores frozen contexts, null payloads and a throwing tracer', async () => {
    const throwingTracer = {
      startSpan() {
        throw new Error('tracer broke');
      },
    };
    const m = new Monitoring({ defaultMetrics: false, systemMetrics: false, tracing: throwingTracer });
    open.push(m);
    m.watch({ name: 'cache' });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      // Node itself cannot trace a frozen context; a publisher that emits events by hand can.
      const frozen = Object.freeze({ component: 'cache', operation: 'get', namespace: 'n' });
      cacheOp.start.publish(frozen);
      cacheOp.asyncEnd.publish(frozen);
      await cacheOp.tracePromise(async () => 2, { component: 'cache', operation: 'get', namespace: 'n' });
      diagnostics_channel.channel(CACHE_BREAKER_CHANNEL).publish(null);
      diagnostics_channel.channel(CACHE_BREAKER_CHANNEL).publish(Object.freeze({ component: 'cache', state: 'open' }));
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    const text = parseExposition(await m.metrics());
    // The unfrozen async operation was still measured despite the tracer failing.
    expect(
      sample(text, 'cache_operation_duration_seconds_count', {
        component: 'cache',
        operation: 'get',
        tier: '',
        hit: '',
        error_type: '',
      }),
    ).toBe(1);
    expect(
      sample(text, 'cryptoscalp_breaker_state', { channel: CACHE_BREAKER_CHANNEL, component: 'cache', state: 'open' }),
    ).toBe(1);
  });
});
