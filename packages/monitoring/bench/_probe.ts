import { performance } from 'node:perf_hooks';
import { Counter, Registry } from 'prom-client';
import { Monitoring } from '/work/main/packages/monitoring/src/index.js';
const registry = new Registry();
for (let k = 0; k < 80; k++) {
  const c = new Counter({ name: `bench_requests_${k}_total`, help: 'bench counter', labelNames: ['route', 'code'], registers: [registry] });
  for (let i = 0; i < 1000; i++) c.labels(`/route/${i}`, String(200 + (i % 5))).inc(i);
}
const m = new Monitoring({ registry, defaultMetrics: false, systemMetrics: false, tracing: false });
for (let r = 0; r < 4; r++) {
  let last = performance.now(); let max = 0; let running = true; const gaps: number[] = [];
  const tick = () => { const n = performance.now(); const g = n - last; if (g > max) max = g; if (g > 8) gaps.push(Math.round(g)); last = n; if (running) setImmediate(tick); };
  setImmediate(tick);
  const t0 = performance.now();
  const text = await m.metrics();
  const t1 = performance.now();
  running = false;
  console.log('total', (t1 - t0).toFixed(1), 'max', max.toFixed(1), 'gaps>8', gaps.join(','), text.length);
}
await m.close();
