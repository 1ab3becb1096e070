import { fastify } from 'fastify';
const POSITIONS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].map((symbol, i) => ({ symbol, qty: 0.5 * (i + 1), avgPrice: 1000, markPrice: 1001, notional: 500, realizedPnl: 12.5 * i, unrealizedPnl: 0.5, fees: 0.1 }));
const app = fastify({ logger: false });
app.get('/api/positions', async () => POSITIONS);
await app.listen({ port: 9911, host: '127.0.0.1' });
console.log('TOKEN x');
process.on('SIGINT', () => { void app.close().then(() => process.exit(0)); });
