import diagnostics_channel from 'node:diagnostics_channel';
import { CHANNEL_NAMES, CHANNELS, type StateChange } from '@cryptoscalp/contracts';
import { stateMetricProblems } from '@cryptoscalp/testkit/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { Monitoring, WS_STATE_CHANNEL } from '../../src/index.js';
import { parseExposition } from '../helpers.js';

const open: Monitoring[] = [];
function make(): Monitoring {
  const m = new Monitoring({ defaultMetrics: false, systemMetrics: false, tracing: false });
  open.push(m);
  return m;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

/** The series of `component`, as `key -> value`. */
async function seriesOf(m: Monitoring, component: string): Promise<Map<string, number>> {
  const all = parseExposition(await m.metrics());
  return new Map([...all].filter(([key]) => key.includes(`component="${component}"`)));
}

describe('channels of the @cryptoscalp/contracts registry', () => {
  it.each(CHANNEL_NAMES)('%s changes a metric of the watched component through watch()', async (channel) => {
    const m = make();
    const component = `c-${channel.replaceAll(':', '-')}`;
    m.watch({ name: component });
    const before = await seriesOf(m, component);
    const payload = { component, operation: 'query', state: 'open', to: 'open', from: 'idle', exchange: 'x' };
    if (CHANNELS[channel].kind === 'tracing') diagnostics_channel.tracingChannel(channel).traceSync(() => 1, payload);
    else diagnostics_channel.channel(channel).publish(payload);
    const after = await seriesOf(m, component);
    const changed = [...after].filter(([key, value]) => before.get(key) !== value);
    expect(changed.length, `no series of ${component} changed`).toBeGreaterThan(0);
  });

  it('ignores events of components it does not watch, on every registered channel', async () => {
    const m = make();
    m.watch({ name: 'watched' });
    for (const channel of CHANNEL_NAMES) {
      const payload = { component: 'stranger', operation: 'query', state: 'open', to: 'open' };
      if (CHANNELS[channel].kind === 'tracing') diagnostics_channel.tracingChannel(channel).traceSync(() => 1, payload);
      else diagnostics_channel.channel(channel).publish(payload);
    }
    expect((await seriesOf(m, 'stranger')).size).toBe(0);
  });
});

describe('cryptoscalp_ws_connection_state', () => {
  const METRIC = 'cryptoscalp_ws_connection_state';
  const ws = diagnostics_channel.channel(WS_STATE_CHANNEL);
  const change = (connection: string, from: StateChange['from'], to: StateChange['to'], endpoint?: string) =>
    ws.publish({ component: 'feeds', exchange: 'binance', connection, endpoint, from, to } satisfies StateChange);

  it('has exactly one state at 1 per connection while the endpoint label changes (connect, failover, reconnect)', async () => {
    const m = make();
    m.watch({ name: 'feeds' });
    // As ws-manager publishes it: no endpoint until a socket opened, none while reconnecting.
    change('binance-1', 'idle', 'connecting');
    expect(stateMetricProblems(await m.metrics(), METRIC)).toEqual([]);
    change('binance-1', 'connecting', 'open', 'wss://a');
    change('binance-2', 'idle', 'connecting');
    change('binance-2', 'connecting', 'open', 'wss://a');
    let text = await m.metrics();
    expect(stateMetricProblems(text, METRIC)).toEqual([]);
    const series = parseExposition(text);
    const at = (endpoint: string, state: string) =>
      series.get(`${METRIC}{component="feeds",endpoint="${endpoint}",exchange="binance",state="${state}"}`);
    expect(at('wss://a', 'open')).toBe(1);
    expect(at('', 'connecting')).toBeUndefined();
    change('binance-1', 'open', 'reconnecting');
    change('binance-1', 'reconnecting', 'open', 'wss://b');
    text = await m.metrics();
    expect(stateMetricProblems(text, METRIC)).toEqual([]);
    // binance-2 is still open on wss://a: the set binance-1 left stays.
    expect(
      parseExposition(text).get(`${METRIC}{component="feeds",endpoint="wss://a",exchange="binance",state="open"}`),
    ).toBe(1);
    expect(
      parseExposition(text).get(`${METRIC}{component="feeds",endpoint="wss://b",exchange="binance",state="open"}`),
    ).toBe(1);
    expect(
      parseExposition(text).get(`${METRIC}{component="feeds",endpoint="",exchange="binance",state="reconnecting"}`),
    ).toBeUndefined();
    change('binance-2', 'open', 'reconnecting');
    text = await m.metrics();
    expect(stateMetricProblems(text, METRIC)).toEqual([]);
    expect(
      parseExposition(text).get(`${METRIC}{component="feeds",endpoint="wss://a",exchange="binance",state="open"}`),
    ).toBeUndefined();
    expect(
      parseExposition(text).get(`${METRIC}{component="feeds",endpoint="",exchange="binance",state="reconnecting"}`),
    ).toBe(1);
  });

  it('the checker flags a label set with two states at 1', () => {
    const text = [
      `${METRIC}{component="a",endpoint="",state="connecting"} 1`,
      `${METRIC}{component="a",endpoint="",state="reconnecting"} 1`,
      `${METRIC}{component="a",endpoint="wss://a",state="open"} 1`,
      `${METRIC}{component="a",endpoint="wss://a",state="closed"} 0`,
    ].join('\n');
    expect(stateMetricProblems(text, METRIC)).toEqual(['{component="a",endpoint=""} has 2 states at 1']);
  });
});
