import { createHttpServer, issueToken } from '../src/http/index.js';
const SECRET = 'bench-secret-0123456789abcdef-0123456789';
const POSITIONS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].map((symbol, i) => ({ symbol, qty: 0.5 * (i + 1), avgPrice: 1000, markPrice: 1001, notional: 500, realizedPnl: 12.5 * i, unrealizedPnl: 0.5, fees: 0.1 }));
const none = () => { throw new Error('x'); };
const api = await createHttpServer({
  trader: { positions: () => POSITIONS, orders: () => [], order: () => undefined, fills: () => [], pnl: none, risk: none, strategyParams: () => ({}), setStrategyParams: none, engageKillSwitch: none, releaseKillSwitch: none, alerts: { list: () => [], silence: none, acknowledge: none }, status: none, subscribe: () => () => {} },
  auth: { secret: SECRET }, audit: { pool: { query: async () => ({ rows: [] }) } },
  rateLimit: { perIp: 1e9, perToken: 1e9 }, dashboard: false, port: 9911,
});
console.log('TOKEN', await issueToken({ sub: 'b', role: 'viewer', secret: SECRET }));
process.on('SIGINT', () => { void api.close().then(() => process.exit(0)); });
