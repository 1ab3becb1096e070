// A runnable tour of @cryptoscalp/ws-manager: a simulated exchange feed on loopback, a managed connection with
// ordering + gap resync, and a StreamHub that re-publishes the trades to a subscriber. Ends by itself in ~3 s.
//   npm run build -w @cryptoscalp/ws-manager && npx tsx examples/ws-manager/index.ts
import diagnostics from 'node:diagnostics_channel';
import { GAP_CHANNEL, WebSocketManager } from '@cryptoscalp/ws-manager';
import { StreamHub } from '@cryptoscalp/ws-manager/hub';
import WebSocket, { WebSocketServer } from 'ws';

// 1. A fake exchange: Binance-like `{ stream, data: { u, p, E } }` every 10 ms, and it skips some sequence numbers.
const exchange = new WebSocketServer({ port: 0, host: '127.0.0.1' });
await new Promise((resolve) => exchange.once('listening', resolve));
const exchangeUrl = `ws://127.0.0.1:${(exchange.address() as { port: number }).port}`;
let u = 0;
const ticker = setInterval(() => {
  u += u % 50 === 49 ? 5 : 1; // a gap every 50 messages
  const frame = JSON.stringify({
    stream: 'btcusdt@trade',
    data: { u, p: (64_000 + Math.random() * 10).toFixed(2), E: Date.now() },
  });
  for (const ws of exchange.clients) ws.send(frame);
}, 10);

// 2. The hub our own users connect to.
const hub = new StreamHub({ port: 0 });
await hub.ready();
const hubUrl = `ws://127.0.0.1:${hub.address()?.port}`;

// 3. The managed client: ordering by `u`, a snapshot fetch on gaps.
diagnostics.subscribe(GAP_CHANNEL, (gap) => console.log('gap (diagnostics channel):', gap));
const manager = new WebSocketManager({ exchanges: { sim: { endpoints: [exchangeUrl] } } });
const conn = manager.connect('sim', {
  stream: (m) => m.stream,
  sequence: (m) => m.data.u,
  timestamp: (m) => m.data.E,
  resync: async () => ({ sequence: u }), // a real client would fetch the REST snapshot here
});
conn.on('state', (s) => console.log(`state ${s.from} -> ${s.to}`));
conn.on('message', (m) => {
  if (m.kind === 'delta') hub.publish('trades', m.data);
});
await conn.subscribe('btcusdt@trade', { method: 'SUBSCRIBE', params: ['btcusdt@trade'], id: 1 });

// 4. A user of the hub.
const user = new WebSocket(hubUrl);
let received = 0;
user.on('open', () => user.send(JSON.stringify({ op: 'subscribe', topic: 'trades' })));
user.on('message', (raw) => {
  const msg = JSON.parse(raw.toString());
  if (msg.type === 'message') received++;
});

await new Promise((resolve) => setTimeout(resolve, 2_500));
const streamStats = (conn.stats() as { streams: Record<string, unknown> }).streams['btcusdt@trade'];
console.log('stream stats:', streamStats);
console.log('hub stats:', hub.stats());
console.log('user received', received, 'messages');
console.log('health:', await manager.healthCheck(), await hub.healthCheck());

user.close();
clearInterval(ticker);
await manager.close();
await hub.close();
for (const ws of exchange.clients) ws.terminate();
exchange.close();
