import { createServer } from 'node:http';
const POSITIONS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].map((symbol, i) => ({ symbol, qty: 0.5 * (i + 1), avgPrice: 1000, markPrice: 1001, notional: 500, realizedPnl: 12.5 * i, unrealizedPnl: 0.5, fees: 0.1 }));
const raw = createServer((_req, res) => { const body = JSON.stringify(POSITIONS); res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }); res.end(body); });
raw.keepAliveTimeout = 72000;
raw.listen(9911, '127.0.0.1', () => console.log('TOKEN x'));
process.on('SIGINT', () => raw.close(() => process.exit(0)));
