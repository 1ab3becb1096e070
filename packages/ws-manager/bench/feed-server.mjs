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
  // Frames are built in batches and written straight to the TCP socket (server-to-client frames are unmasked),
  // so the feed process stays far cheaper than the client it feeds.
  const socket = ws._socket;
  const header = (length) =>
    length < 126 ? Buffer.from([0x81, length]) : Buffer.from([0x81, 126, length >> 8, length & 0xff]);
  const pump = () => {
    if (ws.readyState !== ws.OPEN) return;
    for (let batch = 0; batch < 8 && socket.writableLength < 4_194_304; batch++) {
      const parts = [];
      for (let i = 0; i < 1024; i++) {
        const payload = Buffer.from(frame(++u));
        parts.push(header(payload.length), payload);
      }
      socket.write(Buffer.concat(parts));
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
