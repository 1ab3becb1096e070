// The image's entrypoint: secrets from files, then the trader in this same process, so node stays PID 1 and
// the trader's own SIGTERM handling (drain, stop in reverse order, summary) is what a `stop` gets.
//
// For every `<NAME>_FILE` variable, `<NAME>` is set to that file's content (one trailing newline dropped) and
// `<NAME>_FILE` is removed: compose and Kubernetes mount secrets as files (`/run/secrets/...`), while the trader
// reads `TRADER_JWT_SECRET`, `DATABASE_URL`, `REDIS_URL`... from its environment, and refuses unknown
// `TRADER_*` variables. Both `<NAME>` and `<NAME>_FILE`, or an unreadable file, stop the start (exit code 2).
import { readFileSync } from 'node:fs';

for (const [key, path] of Object.entries(process.env)) {
  if (!key.endsWith('_FILE') || key === '_FILE' || path === undefined) continue;
  const name = key.slice(0, -'_FILE'.length);
  if (process.env[name] !== undefined) {
    console.error(`entrypoint: both ${name} and ${key} are set; keep one`);
    process.exit(2);
  }
  try {
    process.env[name] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    console.error(`entrypoint: ${key}: cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
  delete process.env[key];
}

await import('./apps/trader/dist/main.js');
