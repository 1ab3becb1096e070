import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LogCounter } from '../../src/app/log-metrics.js';
import type { LogLevel } from '../../src/internal/log.js';

async function counts(counter: LogCounter): Promise<Record<string, number>> {
  const registry = new Registry();
  registry.registerMetric(counter.metric);
  const [metric] = await registry.getMetricsAsJSON();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.level), v.value]));
}

describe('LogCounter.logger (cryptoscalp_log_messages_total{level})', () => {
  it('counts every line at its level, info when none is given, and passes the line on unchanged and in order', async () => {
    const counter = new LogCounter();
    const lines: string[] = [];
    const log = counter.logger((line) => lines.push(line));
    log('trader: started');
    log('trader: postgres unavailable', 'warn');
    log('trader: shutdown: x stop failed', 'error');
    log('audit: row lost', 'error');
    log('odd', 'verbose' as LogLevel);
    expect(lines).toEqual([
      'trader: started',
      'trader: postgres unavailable',
      'trader: shutdown: x stop failed',
      'audit: row lost',
      'odd',
    ]);
    expect(await counts(counter)).toEqual({ trace: 0, debug: 0, info: 2, warn: 1, error: 2, fatal: 0 });
  });
});
