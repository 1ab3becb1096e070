// Runs the exchange simulator in its own process for the benchmark, so its generation work does not share
// the trader's event loop. Prints one JSON line with the URLs, then runs until killed.
import { ExchangeSimulator } from '../src/adapters/sim/exchange-simulator.js';

const eventsPerSecond = Number(process.env.SIM_EVENTS_PER_SECOND ?? 1500);
const tickMs = Number(process.env.SIM_TICK_MS ?? 5);
const symbols = (process.env.SIM_SYMBOLS ?? 'BTCUSDT,ETHUSDT,SOLUSDT').split(',');
const sim = new ExchangeSimulator({ symbols, eventsPerSecond, tickMs, seed: 1 });
const urls = await sim.start();
console.log(JSON.stringify(urls));
process.on('SIGTERM', () => {
  setTimeout(() => process.exit(0), 500).unref();
  void sim.close().then(() => process.exit(0));
});
setInterval(() => {
  if (process.env.SIM_STATS) console.error(JSON.stringify(sim.stats()));
}, 5000).unref();
