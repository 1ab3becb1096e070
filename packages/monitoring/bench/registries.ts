// The registries the scrape benches measure (same series in the bench and in its GC diagnostic).
import { Counter, Histogram, type Registry } from 'prom-client';

/** Case B: 100,000 series in one counter. */
export function addWideCounter(reg: Registry): void {
  const wide = new Counter({
    name: 'bench_wide_total',
    help: 'one wide counter',
    labelNames: ['id'],
    registers: [reg],
  });
  for (let i = 0; i < 100_000; i++) wide.labels(`id-${i}`).inc(i);
}

/** Case C: a counter of 50,000 series and a histogram of 3,500 label sets. */
export function addOrdersAndFills(reg: Registry): void {
  const c50 = new Counter({ name: 'bench_orders_total', help: 'c', labelNames: ['symbol', 'side'], registers: [reg] });
  for (let i = 0; i < 50_000; i++) c50.labels(`SYM${i >> 1}`, i & 1 ? 'buy' : 'sell').inc(i);
  const h35 = new Histogram({
    name: 'bench_fill_seconds',
    help: 'h',
    labelNames: ['venue', 'symbol'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
    registers: [reg],
  });
  for (let i = 0; i < 3_500; i++) for (let j = 0; j < 3; j++) h35.labels(`v${i % 7}`, `S${i}`).observe(j * 0.02);
}
