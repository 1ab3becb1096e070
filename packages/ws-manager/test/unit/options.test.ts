import { describe, expect, it } from 'vitest';
import {
  isInvalidOptionError,
  isQueueOverflowError,
  isWsManagerError,
  StreamHub,
  type StreamHubOptions,
  WebSocketManager,
  type WebSocketManagerOptions,
  WsManagerError,
  WsManagerErrorCode,
} from '../../src/index.js';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(isInvalidOptionError(error)).toBe(true);
    return (error as WsManagerError).field;
  }
  throw new Error('expected a throw');
}

const ok = { exchanges: { bin: { endpoints: ['ws://127.0.0.1:1'] } } };

describe('WebSocketManager options', () => {
  it.each([
    [{}, 'exchanges'],
    [{ exchanges: {} }, 'exchanges'],
    [{ name: '', ...ok }, 'name'],
    [{ exchanges: { bin: null } }, 'exchanges.bin'],
    [{ exchanges: { bin: { endpoints: [] } } }, 'exchanges.bin.endpoints'],
    [{ exchanges: { bin: { endpoints: ['http://x'] } } }, 'exchanges.bin.endpoints[0]'],
    [{ exchanges: { bin: { endpoints: ['ws://a', 'nope'] } } }, 'exchanges.bin.endpoints[1]'],
    [
      { exchanges: { bin: { endpoints: ['ws://a'], limits: { connectsPerSecond: 0 } } } },
      'exchanges.bin.limits.connectsPerSecond',
    ],
    [
      { exchanges: { bin: { endpoints: ['ws://a'], limits: { messageBurst: 1.5 } } } },
      'exchanges.bin.limits.messageBurst',
    ],
    [
      { exchanges: { bin: { endpoints: ['ws://a'], breaker: { errorThresholdPercentage: 101 } } } },
      'exchanges.bin.breaker.errorThresholdPercentage',
    ],
    [
      { exchanges: { bin: { endpoints: ['ws://a'], connection: { maxFrameBytes: 0 } } } },
      'exchanges.bin.connection.maxFrameBytes',
    ],
    // Unknown keys: a misspelt option must not silently keep its default.
    [{ ...ok, exchange: {} }, 'exchange'],
    [{ exchanges: { bin: { endpoints: ['ws://a'], limit: {} } } }, 'exchanges.bin.limit'],
    [
      { exchanges: { bin: { endpoints: ['ws://a'], limits: { connectsPerSec: 1 } } } },
      'exchanges.bin.limits.connectsPerSec',
    ],
    [
      { exchanges: { bin: { endpoints: ['ws://a'], breaker: { resetTimeout: 1 } } } },
      'exchanges.bin.breaker.resetTimeout',
    ],
    [
      { exchanges: { bin: { endpoints: ['ws://a'], connection: { heartbeat: { interval: 1 } } } } },
      'exchanges.bin.connection.heartbeat.interval',
    ],
    [
      { exchanges: { bin: { endpoints: ['ws://a'], connection: { queue: { size: 1 } } } } },
      'exchanges.bin.connection.queue.size',
    ],
  ])('rejects %j naming %s', (options, field) => {
    expect(fieldOf(() => new WebSocketManager(options as unknown as WebSocketManagerOptions))).toBe(field);
  });

  it('rejects bad connect() options naming the field, and unknown exchanges', async () => {
    const manager = new WebSocketManager(ok);
    expect(fieldOf(() => manager.connect('bin', { codec: {} as never }))).toBe('connection.codec');
    expect(fieldOf(() => manager.connect('bin', { heartbeat: { intervalMs: -1 } }))).toBe(
      'connection.heartbeat.intervalMs',
    );
    expect(fieldOf(() => manager.connect('bin', { backoff: { initialDelayMs: 100, maxDelayMs: 10 } }))).toBe(
      'connection.backoff.maxDelayMs',
    );
    expect(fieldOf(() => manager.connect('bin', { queue: { policy: 'fifo' as never } }))).toBe(
      'connection.queue.policy',
    );
    expect(fieldOf(() => manager.connect('bin', { sequence: 5 as never }))).toBe('connection.sequence');
    expect(fieldOf(() => manager.connect('bin', { maxFrameBytes: 10, maxPayloadBytes: 5 }))).toBe(
      'connection.maxPayloadBytes',
    );
    expect(fieldOf(() => manager.connect('bin', { reorderWindow: 1.5 }))).toBe('connection.reorderWindow');
    expect(fieldOf(() => manager.connect('bin', { reconnect: true } as never))).toBe('connection.reconnect');
    expect(fieldOf(() => manager.connect('bin', { backoff: { maxDelay: 1 } } as never))).toBe(
      'connection.backoff.maxDelay',
    );
    expect(fieldOf(() => manager.connect('bin', { resetSequenceOnReconnect: 'yes' as never }))).toBe(
      'connection.resetSequenceOnReconnect',
    );
    let error: unknown;
    try {
      manager.connect('nope');
    } catch (e) {
      error = e;
    }
    expect(isWsManagerError(error) && error.code).toBe(WsManagerErrorCode.UnknownExchange);
    expect(manager.exchanges).toEqual(['bin']);
    expect(await manager.healthCheck()).toMatchObject({ status: 'pass', output: 'no connections' });
    const controller = new AbortController();
    controller.abort();
    expect((await manager.healthCheck(controller.signal)).status).toBe('fail');
    await manager.close();
    await manager.close();
    expect((await manager.healthCheck()).status).toBe('fail');
    expect(() => manager.connect('bin')).toThrow(/closed/);
  });
});

describe('StreamHub options', () => {
  it.each([
    [{}, 'server'],
    [{ port: 1, server: {} }, 'port'],
    [{ server: { nope: 1 } }, 'server'],
    [{ port: -1 }, 'port'],
    [{ port: 0, slowConsumer: 'drop' }, 'slowConsumer'],
    [{ port: 0, maxClients: 5 }, 'maxClients'],
    [{ port: 0, history: { max: 5 } }, 'history.max'],
    [{ port: 0, slowConsumerCloseCode: 2000 }, 'slowConsumerCloseCode'],
    [{ port: 0, maxBufferedBytes: 0 }, 'maxBufferedBytes'],
    [{ port: 0, history: { maxMessages: 0 } }, 'history.maxMessages'],
    [{ port: 0, maxTopics: 0 }, 'maxTopics'],
    [{ port: 0, broker: { publish() {} } }, 'broker'],
    [{ port: 0, authenticate: 'yes' }, 'authenticate'],
    [{ port: 0, path: 'x' }, 'path'],
    [{ port: 0, name: '' }, 'name'],
    [{ port: 0, host: '' }, 'host'],
    [{ port: 0, epoch: '' }, 'epoch'],
    [{ port: 0, epoch: 7 }, 'epoch'],
    [{ port: 0, epoch: 'x'.repeat(257) }, 'epoch'],
  ])('rejects %j naming %s', (options, field) => {
    expect(fieldOf(() => new StreamHub(options as unknown as StreamHubOptions))).toBe(field);
  });
});

describe('WsManagerError', () => {
  it('carries code, context and cause, and is recognised by brand across copies', () => {
    const cause = new Error('boom');
    const error = new WsManagerError(WsManagerErrorCode.ConnectFailed, 'failed', {
      exchange: 'x',
      endpoint: 'ws://a',
      cause,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('WsManagerError');
    expect(error.code).toBe('E_WS_CONNECT_FAILED');
    expect(error.exchange).toBe('x');
    expect(error.endpoint).toBe('ws://a');
    expect(error.cause).toBe(cause);
    const foreign = { [Symbol.for('cryptoscalp.ws-manager.error')]: true, code: 'E_WS_QUEUE_OVERFLOW' };
    expect(isWsManagerError(foreign)).toBe(true);
    expect(isQueueOverflowError(foreign)).toBe(true);
    expect(isWsManagerError(new Error('x'))).toBe(false);
    expect(isWsManagerError(null)).toBe(false);
  });
});
