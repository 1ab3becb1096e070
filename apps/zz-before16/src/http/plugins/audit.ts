import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { PluginOptions } from './context.js';

/**
 * The append-only audit log as `app.audit`: its table is created at start (when the database is down the rows queue
 * and the DDL is retried; health reports `warn`), and its queue is flushed once on close. The pool stays the
 * caller's. What is audited is decided where it happens: logins and auth failures in `auth`, sensitive routes in
 * `routes`, refused bodies in `errors`.
 */
async function audit(app: FastifyInstance, { auditLog }: PluginOptions): Promise<void> {
  // Wait a little for the table (so the first rows are written at once when the database is up), but never longer:
  // PostgreSQL may be down at start, and db-pool waits out its failover window, longer than Fastify's plugin
  // timeout. Rows queue meanwhile and the flush retries the DDL; health says `warn`.
  const init = auditLog.init().then(
    () => true,
    () => {
      auditLog.failed++;
      return false;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    init,
    new Promise((r) => {
      timer = setTimeout(r, 2_000);
    }),
  ]);
  clearTimeout(timer);
  app.decorate('audit', auditLog);
  app.addHook('onClose', async () => {
    await auditLog.close();
  });
}

export default fp(audit, { name: 'trader-audit', fastify: '5.x' });
