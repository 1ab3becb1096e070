// Feed server child process for the benches. Usage: node feed-server.mjs <port> <mode> [intervalMs]
//   mode 'blast':  on each connection, stream sequenced JSON trades as fast as the socket drains.
//   mode 'ticker': one sequenced message per stream every intervalMs to every client (sequence survives via argv[5]).
// Prints "LISTENING <port>" when ready.
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? 0);
const mode = process.argv[3] ?? 'blast';
const intervalMs = Number(process.argv[4] ?? 1);
let seq = Number(process.argv[5] ?? 0);

const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
const frame = (u) => `{"stream":"btcusdt@trade","u":${u},"E":${Date.now()},"p":"64123.45","q":"0.01250","m":true}`;

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', () => {}); // subscriptions are implicit
  if (mode !== 'blast') return;
  let u = 0;
  const pump = () => {
    if (ws.readyState !== ws.OPEN) return;
    // Keep ~1 MiB in flight: the measured side, not the server, must be the bottleneck.
    while (ws.bufferedAmount < 1_048_576) {
      for (let i = 0; i < 64; i++) ws.send(frame(++u));
    }
    setImmediate(pump);
  };
  pump();
});

if (mode === 'ticker') {
  setInterval(() => {
    const data = frame(++seq);
    for (const ws of wss.clients) if (ws.readyState === ws.OPEN) ws.send(data);
  }, intervalMs);
}

wss.on('listening', () => {
  process.stdout.write(`LISTENING ${wss.address().port}\n`);
});
