import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
const child = spawn(process.execPath, ['--import', 'tsx', 'bench/simulator-process.ts'], { env: { ...process.env, SIM_EVENTS_PER_SECOND: '1500', SIM_TICK_MS: '5', SIM_STATS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
const line = await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r));
const { wsUrl } = JSON.parse(line);
for (const wait of [0, 6000, 6000]) {
  await new Promise((r) => setTimeout(r, wait));
  const t0 = Date.now();
  await new Promise<void>((res) => { const ws = new WebSocket(`${wsUrl}?streams=btcusdt@trade`); ws.on('open', () => { console.log('open after', Date.now() - t0); ws.terminate(); res(); }); ws.on('error', (e) => { console.log('err', e.message); res(); }); });
}
child.kill('SIGKILL');
