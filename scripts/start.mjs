#!/usr/bin/env node
// `npm start [-- --duration 30]`: builds the packages (quietly; the output is shown only if the build fails), then
// runs the reference trader with the given arguments, forwarding SIGINT/SIGTERM so it shuts down gracefully.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

process.stdout.write('building the packages... ');
const build = spawnSync(npm, ['run', 'build', '--silent'], { cwd: root, encoding: 'utf8' });
if (build.status !== 0) {
  console.log('failed\n');
  console.error(`${build.stdout ?? ''}${build.stderr ?? ''}`);
  process.exit(build.status ?? 1);
}
console.log('done');

const trader = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...process.argv.slice(2)], {
  cwd: join(root, 'apps', 'trader'),
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => trader.kill(signal));
trader.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
