import { reachable, serviceUrls } from './services.js';

const howToStart = `Start the local services with \`npm run services\` (scripts/services.sh), or point REDIS_URL and
DATABASE_URL at running servers. The commands are:
  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
or, with Docker: docker compose up -d`;

/**
 * Vitest global setup for the integration project: the tests need real Redis and
 * PostgreSQL servers, and never skip silently when they are missing.
 */
export default async function setup(): Promise<void> {
  const missing: string[] = [];
  if (!(await reachable(serviceUrls.redis))) missing.push(`Redis at ${redact(serviceUrls.redis)} (REDIS_URL)`);
  if (!(await reachable(serviceUrls.postgres)))
    missing.push(`PostgreSQL at ${redact(serviceUrls.postgres)} (DATABASE_URL)`);
  if (missing.length > 0) {
    throw new Error(
      `Integration tests need real servers, and these are unreachable:\n  ${missing.join('\n  ')}\n${howToStart}`,
    );
  }
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
