import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, Monitoring } from '@cryptoscalp/monitoring';
import { waitFor } from '@cryptoscalp/testkit';
import { Gauge } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createCommandHandler } from '../../src/app/command-handler.js';
import { EngineComponent } from '../../src/app/components/engine-component.js';
import { EventPublisher } from '../../src/app/components/event-publisher.js';
import { JournalComponent } from '../../src/app/components/journal-component.js';
import { buildEngineStatus } from '../../src/app/engine-status.js';
import { createReadModelPort, type ReadModelPort } from '../../src/app/read-model-port.js';
import { MemoryCommandBus } from '../../src/bus/memory-command-bus.js';
import { MemoryEventLog } from '../../src/bus/memory-event-log.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { TradingEngine } from '../../src/engine/trading-engine.js';
import type { AlertsSource } from '../../src/http/alert-manager-port.js';
import { alertsFromAlertManager } from '../../src/http/alert-manager-port.js';
import type { TraderEvent } from '../../src/http/trader-port.js';
import type { BookEvent } from '../../src/model/types.js';
import type { TraderRecord } from '../../src/read-model/trader-record.js';
import type { Strategy } from '../../src/strategy/strategy.js';
import { type Harness, type Json, startHarness } from './api-harness.js';

/**
 * The trader's real engine behind the API, wired as `--role all` wires it: the engine's entries and book tops on
 * the (in-process) event stream, the read model folded from it, commands over the (in-process) command bus to the
 * engine's handler, and the API on the read-model port.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'api-wiring-'));
const config = loadConfig({
  env: {},
  overrides: {
    symbols: ['BTCUSDT'],
    instanceId: 'apiw',
    execution: { latencyMs: 0 },
    dataDir,
    journal: { fsync: 'never' },
    bus: { marketIntervalMs: 20 },
  },
});
const idle: Strategy = { name: 'idle', onBook: () => undefined, stats: () => ({}) };

let engine: TradingEngine;
let journalC: JournalComponent;
let engineC: EngineComponent;
let publisher: EventPublisher;
let bus: MemoryCommandBus;
let port: ReadModelPort;
let alerts: AlertsSource | undefined;
let monitoring: Monitoring;
let clock: ManualClock;
let gauge: Gauge;
let h: Harness;
let u = 100;

const diff = (bids: [number, number][], asks: [number, number][]): BookEvent => {
  u++;
  return {
    kind: 'book',
    venue: 'binance',
    symbol: 'BTCUSDT',
    snapshot: false,
    bids,
    asks,
    firstSeq: u,
    lastSeq: u,
    prevSeq: u - 1,
    exchTs: Date.now(),
  };
};

beforeAll(async () => {
  journalC = new JournalComponent(config, () => {});
  journalC.start();
  engineC = new EngineComponent(config, journalC, { strategy: idle });
  engineC.start();
  engine = engineC.engine();
  engine.start();
  engine.onSnapshot('BTCUSDT', {
    lastUpdateId: 100,
    bids: [
      [100, 1],
      [99, 5],
    ],
    asks: [
      [101, 1],
      [102, 5],
    ],
  });
  clock = new ManualClock(Date.now());
  monitoring = new Monitoring({
    defaultMetrics: false,
    systemMetrics: false,
    tracing: false,
    alerting: {
      evaluationInterval: '1s',
      clock,
      rules: [
        {
          name: 'drawdown',
          condition: { type: 'threshold', metric: 'api_test_drawdown', op: '>', value: 300 },
          severity: 'critical',
          annotations: { summary: 'drawdown {{value}}' },
        },
      ],
    },
  });
  gauge = new Gauge({ name: 'api_test_drawdown', help: 'x', registers: [monitoring.registry] });
  alerts = alertsFromAlertManager(monitoring.alerts);
  publisher = new EventPublisher(
    config,
    journalC,
    engineC,
    new MemoryEventLog<TraderRecord>({ name: 'event-stream' }),
    async () => buildEngineStatus(config, engine, { components: [], alerts: (await alerts?.list()) ?? [] }),
  );
  await publisher.start();
  bus = new MemoryCommandBus({ name: 'commands' });
  await bus.start();
  bus.serve(createCommandHandler(engine, publisher, alerts));
  port = createReadModelPort({
    model: publisher.model,
    commands: bus,
    waitFor: async (offset) => publisher.model.offset >= offset,
    commandTimeoutMs: 2_000,
    components: async () => [{ name: 'journal', status: 'pass' }],
  });
  h = await startHarness({}, undefined, port);
});

afterAll(async () => {
  await h?.close();
  port?.close();
  await bus?.close();
  await publisher?.stop();
  await engineC?.stop();
  journalC?.stop();
  await monitoring?.close({ drainTimeoutMs: 10 });
  rmSync(dataDir, { recursive: true, force: true });
});

/** A read-model port on the published model that sends its commands through `commands` (no components, no waiting). */
const portOn = (commands: MemoryCommandBus, commandTimeoutMs: number): ReadModelPort =>
  createReadModelPort({
    model: publisher.model,
    commands,
    waitFor: async () => true,
    commandTimeoutMs,
    components: async () => [],
  });

describe('API over the real trading engine, through the event stream and the command bus', () => {
  it('serves orders, fills, positions, PnL and risk from the engine, and steers its kill switch', async () => {
    const order = engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'market', qty: 0.5 });
    expect('clientOrderId' in order).toBe(true);
    engine.onMarketEvent(diff([[100, 2]], []));
    await waitFor(() => engine.portfolio.snapshot('BTCUSDT').qty > 0, { what: 'fill' });
    const id = (order as { clientOrderId: string }).clientOrderId;

    await waitFor(() => publisher.model.positions().some((p) => p.qty > 0), { what: 'fill in the read model' });
    const positions = await h.call('GET', '/api/positions', { token: h.tokens.viewer });
    expect(positions.body).toEqual([expect.objectContaining({ symbol: 'BTCUSDT', qty: 0.5, avgPrice: 101 })]);
    const orders = await h.call('GET', '/api/orders', { token: h.tokens.viewer });
    expect(orders.body[0]).toMatchObject({ clientOrderId: id, status: 'filled' });
    const detail = await h.call('GET', `/api/orders/${id}`, { token: h.tokens.viewer });
    expect(detail.body.fills).toHaveLength(1);
    const fills = await h.call('GET', '/api/fills?symbol=BTCUSDT', { token: h.tokens.viewer });
    expect(fills.body[0]).toMatchObject({ clientOrderId: id, price: 101, qty: 0.5 });
    const pnl = await h.call('GET', '/api/pnl', { token: h.tokens.viewer });
    expect(pnl.body.fees).toBeGreaterThan(0);
    expect((await h.call('GET', '/api/risk', { token: h.tokens.viewer })).body.mode).toBe('RUNNING');

    const halted = await h.call('POST', '/api/kill-switch', {
      token: h.tokens.admin,
      body: { mode: 'HALTED', reason: 'wiring test' },
    });
    expect(halted.body.mode).toBe('HALTED');
    expect(engine.killSwitch.state).toBe('HALTED');
    expect(engine.killSwitch.reason).toContain('operator ada');
    await h.call('POST', '/api/kill-switch/release', { token: h.tokens.admin, body: { reason: 'done' } });
    expect(engine.killSwitch.state).toBe('RUNNING');
    // The release holds against the rules (grace and step from the configuration), and the API says until when.
    await waitFor(
      async () => (await h.call('GET', '/api/risk', { token: h.tokens.viewer })).body.releaseHold !== undefined,
      {
        what: 'release hold in the read model',
        timeoutMs: 15_000,
      },
    );
    const held = (await h.call('GET', '/api/risk', { token: h.tokens.viewer })).body;
    expect(held.mode).toBe('RUNNING');
    expect(held.releaseHold.until - held.releaseHold.releasedAt).toBe(config.risk.releaseGraceMs);
    expect(held.releaseHold.drawdownResumesAt).toBeGreaterThanOrEqual(config.risk.releaseStep);

    const limit = engine.submit({ symbol: 'BTCUSDT', side: 'buy', type: 'limit', qty: 0.1, price: 90 });
    const limitId = (limit as { clientOrderId: string }).clientOrderId;
    await waitFor(() => engine.orders.get(limitId)?.status === 'accepted', { what: 'accepted' });
    const cancel = await h.call('POST', `/api/orders/${limitId}/cancel`, { token: h.tokens.trader });
    expect(cancel.status).toBe(200);
    await waitFor(() => engine.orders.get(limitId)?.status === 'cancelled', { what: 'cancelled' });

    const params = await h.call('GET', '/api/strategy/params', { token: h.tokens.viewer });
    expect(params.body.threshold).toBe(config.strategy.threshold);
    const change = await h.call('PUT', '/api/strategy/params', { token: h.tokens.trader, body: { threshold: 0.1 } });
    expect(change.status).toBe(400);
    expect(change.body.field).toBe('body.threshold');

    // The engine's latency arrives with its next status record (every second).
    await waitFor(
      async () =>
        Object.keys((await h.call('GET', '/api/status', { token: h.tokens.viewer })).body.latency).includes(
          'tickToJournaled',
        ),
      { what: 'engine latency in /api/status' },
    );
    const status = await h.call('GET', '/api/status', { token: h.tokens.viewer });
    expect(status.body.components).toEqual([{ name: 'journal', status: 'pass' }]);
  });

  it('lists, silences and acknowledges the alert manager’s alerts', async () => {
    gauge.set(350);
    await clock.advance(1_000);
    await waitFor(() => monitoring.alerts.active().some((a) => a.state === 'firing'), { what: 'firing alert' });
    // Alerts reach the API with the engine's status records.
    await waitFor(async () => (await h.call('GET', '/api/alerts', { token: h.tokens.viewer })).body.length > 0, {
      what: 'alert in the API',
    });
    const list = await h.call('GET', '/api/alerts', { token: h.tokens.viewer });
    expect(list.body[0]).toMatchObject({
      name: 'drawdown',
      severity: 'critical',
      state: 'firing',
      summary: 'drawdown 350',
    });
    const ack = await h.call('POST', `/api/alerts/${list.body[0].id}/ack`, { token: h.tokens.trader });
    expect(ack.status).toBe(200);
    expect(monitoring.alerts.active()[0]?.acknowledged?.by).toBe('theo');
    expect((await h.call('POST', '/api/alerts/nope/ack', { token: h.tokens.trader })).status).toBe(404);
    const silence = await h.call('POST', '/api/alerts/silences', {
      token: h.tokens.admin,
      body: { matchers: { alertname: 'drawdown' }, durationMs: 600_000, comment: 'investigating' },
    });
    expect(silence.status).toBe(200);
    expect(monitoring.alerts.silences()[0]).toMatchObject({ id: silence.body.id, createdBy: 'ada' });
  });

  it('streams prices, books, fills, positions and PnL from the engine', async () => {
    const ws = new WebSocket(`${h.api.url.replace('http', 'ws')}/api/stream`, ['bearer', h.tokens.viewer]);
    const got: Json[] = [];
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString());
      if (m.type === 'message') got.push(m);
    });
    await new Promise((r) => ws.once('open', r));
    for (const topic of ['prices.BTCUSDT', 'book.BTCUSDT', 'fills', 'positions', 'pnl'])
      ws.send(JSON.stringify({ op: 'subscribe', topic }));
    await waitFor(() => got.some((m) => m.topic === 'prices.BTCUSDT') && got.some((m) => m.topic === 'pnl'), {
      what: 'market and pnl',
    });
    engine.submit({ symbol: 'BTCUSDT', side: 'sell', type: 'market', qty: 0.2 });
    engine.onMarketEvent(diff([[100, 3]], []));
    await waitFor(() => got.some((m) => m.topic === 'fills'), { what: 'fill on the stream' });
    const price = got.find((m) => m.topic === 'prices.BTCUSDT').data;
    expect(price).toMatchObject({ symbol: 'BTCUSDT', bid: 100, ask: 101, price: 100.5 });
    const book = got.find((m) => m.topic === 'book.BTCUSDT').data;
    expect(book.bids[0]).toEqual([100, expect.any(Number)]);
    expect(got.find((m) => m.topic === 'fills').data).toMatchObject({ side: 'sell', qty: 0.2 });
    await waitFor(() => got.some((m) => m.topic === 'positions' && m.data.qty === 0.3), { what: 'position 0.3' });
    ws.close();
  });

  it('answers 501 for alert commands when the engine has no alerting', async () => {
    const bareBus = new MemoryCommandBus({ name: 'bare' });
    await bareBus.start();
    bareBus.serve(createCommandHandler(engine, publisher, undefined));
    const bare = portOn(bareBus, 1_000);
    await expect(
      Promise.resolve(bare.alerts.silence({ matchers: { a: 'b' }, durationMs: 60_000, comment: 'x', createdBy: 'y' })),
    ).rejects.toMatchObject({ status: 501, code: 'E_API_NOT_IMPLEMENTED' });
    await expect(Promise.resolve(bare.alerts.acknowledge('x', 'y'))).rejects.toThrow(/not configured/);
    bare.close();
    await bareBus.close();
  });

  it('answers 504 when the engine does not answer a command in time, and the late engine does not apply it', async () => {
    const silent = new MemoryCommandBus({ name: 'silent' });
    await silent.start();
    const p = portOn(silent, 100);
    await expect(
      Promise.resolve(p.engageKillSwitch({ mode: 'HALTED', reason: 'late', actor: { sub: 'ada', role: 'admin' } })),
    ).rejects.toMatchObject({ status: 504 });
    // The engine comes up after the deadline: the command expired and is not applied.
    await new Promise((r) => setTimeout(r, 20));
    silent.serve(createCommandHandler(engine, publisher, alerts));
    await new Promise((r) => setTimeout(r, 100));
    expect(engine.killSwitch.state).toBe('RUNNING');
    p.close();
    await silent.close();
  });

  it('publishes alert changes on the alerts topic', async () => {
    const events: TraderEvent[] = [];
    const stop = port.subscribe((e) => events.push(e));
    gauge.set(0);
    await clock.advance(1_000);
    await waitFor(() => events.some((e) => e.type === 'alert' && e.alert.state === 'resolved'), { what: 'resolved' });
    stop();
  });
});
