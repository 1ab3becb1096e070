import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LogCounter } from '../../src/app/log-metrics.js';
import { loadConfig } from '../../src/config/index.js';
import { isTraderError, type TraderError } from '../../src/errors.js';
import { createLogWriter, LOG_LEVELS, type LogLevel, type LogWriterOptions } from '../../src/internal/log.js';
import { tempDirs } from '../temp-dir.js';

// The trader's log writer (`log.format`, `log.level`): text lines as before, or one pino JSON object a line with
// the fields promtail reads (deploy/observability/loki/promtail.yml), and the configuration keys that select it.
const tempDir = tempDirs('trader-log-');

function fails(fn: () => unknown): TraderError {
  try {
    fn();
  } catch (e) {
    expect(isTraderError(e), String(e)).toBe(true);
    return e as TraderError;
  }
  throw new Error('expected a TraderError');
}

function collect(options: Omit<LogWriterOptions, 'write'>) {
  const lines: string[] = [];
  const log = createLogWriter({ ...options, write: (l) => lines.push(l) });
  return { log, lines, objects: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogWriter', () => {
  it('json: one object a line: the level by name, time in epoch ms, msg unchanged, the base fields', () => {
    const { log, lines, objects } = collect({ format: 'json', base: { role: 'engine', instance: 'engine-2', pid: 7 } });
    const before = Date.now();
    log('trader: running for 2 s');
    log('trader: took over a stale lock of /data (pid 12 is not running)', 'warn');
    log('trader: summary {\n  "orders": 2\n}', 'info');
    // Format specifiers are text: the line is the message, never a format string.
    log('odd %s %d %% %j line', 'error');
    log('last words', 'fatal');
    const after = Date.now();
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
    const got = objects();
    expect(got.map((o) => [o.level, o.msg])).toEqual([
      ['info', 'trader: running for 2 s'],
      ['warn', 'trader: took over a stale lock of /data (pid 12 is not running)'],
      ['info', 'trader: summary {\n  "orders": 2\n}'],
      ['error', 'odd %s %d %% %j line'],
      ['fatal', 'last words'],
    ]);
    for (const o of got) {
      expect(Object.keys(o).sort()).toEqual(['instance', 'level', 'msg', 'pid', 'role', 'time']);
      expect(o).toMatchObject({ role: 'engine', instance: 'engine-2', pid: 7 });
      expect(Number.isInteger(o.time) && (o.time as number) >= before && (o.time as number) <= after).toBe(true);
    }
    // Substring matches on the text lines (`trader: running`, `trader: summary {`) still find the JSON lines.
    expect(lines.join('\n')).toContain('trader: summary {');
  });

  it('drops the lines below log.level (text and json alike); an unknown level is written as info', () => {
    for (const format of ['text', 'json'] as const) {
      const atWarn = collect({ format, level: 'warn' });
      for (const level of LOG_LEVELS) atWarn.log(`at ${level}`, level);
      atWarn.log('unknown', 'verbose' as LogLevel);
      atWarn.log('no level');
      const expected = ['at warn', 'at error', 'at fatal'];
      expect(format === 'text' ? atWarn.lines : atWarn.objects().map((o) => o.msg), format).toEqual(expected);

      const all = collect({ format, level: 'trace' });
      for (const level of LOG_LEVELS) all.log(`at ${level}`, level);
      all.log('unknown', 'verbose' as LogLevel);
      expect(all.lines, format).toHaveLength(LOG_LEVELS.length + 1);
      if (format === 'json') {
        expect(all.objects().map((o) => o.level)).toEqual([...LOG_LEVELS, 'info']);
      }
    }
  });

  it("text: today's lines exactly, at the default level info (debug and trace dropped)", () => {
    const { log, lines } = collect({ format: 'text', base: { role: 'all', instance: 'x' } });
    log('trader: starting role all (development), pid 1, symbols BTCUSDT');
    log('trader: demoted: lease lost', 'error');
    log('details', 'debug');
    expect(lines).toEqual([
      'trader: starting role all (development), pid 1, symbols BTCUSDT',
      'trader: demoted: lease lost',
    ]);
  });

  it('json to a file descriptor: each line is on disk when the call returns (synchronous, nothing left queued)', () => {
    const path = join(tempDir(), 'out.log');
    writeFileSync(path, '');
    const fd = openSync(path, 'a');
    try {
      const log = createLogWriter({
        format: 'json',
        base: { role: 'all', instance: 'fd-test' },
        write: () => expect.fail('with fd, write is not used'),
        fd,
      });
      for (let i = 0; i < 200; i++) {
        log(`line ${i}`, i % 2 === 0 ? 'info' : 'error');
        // Read back before anything else runs: an asynchronous destination would not have written it yet.
        const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
        expect(lines).toHaveLength(i + 1);
        expect(JSON.parse(lines[i] as string)).toMatchObject({ msg: `line ${i}`, instance: 'fd-test' });
      }
    } finally {
      closeSync(fd);
    }
  });

  it('rejects a bad option with a TraderError naming it, unknown keys too', () => {
    const write = () => {};
    const cases: [Record<string, unknown>, string][] = [
      [{ format: 'xml', write }, 'format'],
      [{ format: 'json', level: 'verbose', write }, 'level'],
      [{ format: 'json' }, 'write'],
      [{ format: 'json', write, fd: -1 }, 'fd'],
      [{ format: 'json', write, fd: 1.5 }, 'fd'],
      [{ format: 'json', write, base: null }, 'base'],
      [{ format: 'json', write, destination: 1 }, 'destination'],
    ];
    for (const [options, field] of cases) {
      const e = fails(() => createLogWriter(options as unknown as LogWriterOptions));
      expect(e.code).toBe('E_TRADER_INVALID_OPTION');
      expect(e.field, JSON.stringify(options)).toBe(field);
      expect(e.message).toContain(field);
    }
  });
});

describe('LogCounter with a log.level filter', () => {
  it('counts every line at its level once, written or not, and writes only those at or above log.level', async () => {
    const counter = new LogCounter();
    const lines: string[] = [];
    const log = counter.logger(createLogWriter({ format: 'json', level: 'warn', write: (l) => lines.push(l) }));
    log('trader: running');
    log('trader: lease renewal late', 'warn');
    log('trader: shutdown: x stop failed', 'error');
    log('odd', 'verbose' as LogLevel);
    log('trace detail', 'trace');
    expect(lines.map((l) => (JSON.parse(l) as { level: string; msg: string }).msg)).toEqual([
      'trader: lease renewal late',
      'trader: shutdown: x stop failed',
    ]);
    const registry = new Registry();
    registry.registerMetric(counter.metric);
    const [metric] = await registry.getMetricsAsJSON();
    const counts = Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.level), v.value]));
    expect(counts).toEqual({ trace: 1, debug: 0, info: 2, warn: 1, error: 1, fatal: 0 });
  });
});

describe('log.format and log.level in the configuration', () => {
  it('default to text and info; TRADER_LOG_FORMAT and TRADER_LOG_LEVEL set them', () => {
    expect(loadConfig({ env: {} }).log).toEqual({ format: 'text', level: 'info' });
    expect(loadConfig({ env: { TRADER_LOG_FORMAT: 'json', TRADER_LOG_LEVEL: 'warn' } }).log).toEqual({
      format: 'json',
      level: 'warn',
    });
  });

  it('reject a bad value naming the field, from the environment or a file, and unknown log keys', () => {
    const env = fails(() => loadConfig({ env: { TRADER_LOG_FORMAT: 'xml' } }));
    expect(env.code).toBe('E_TRADER_INVALID_CONFIG');
    expect(env.field).toBe('log.format');
    expect(env.message).toMatch(/log\.format must be one of text, json \(got "xml"\)/);
    const level = fails(() => loadConfig({ env: { TRADER_LOG_LEVEL: 'verbose' } }));
    expect(level.field).toBe('log.level');
    const dir = tempDir();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ log: { format: 'JSON' } }));
    expect(fails(() => loadConfig({ env: {}, file })).field).toBe('log.format');
    writeFileSync(file, JSON.stringify({ log: { destination: 'stdout' } }));
    expect(fails(() => loadConfig({ env: {}, file })).field).toBe('log.destination');
    expect(fails(() => loadConfig({ env: { TRADER_LOG_COLOR: 'true' } })).field).toBe('TRADER_LOG_COLOR');
  });
});
