import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../src/app/embedded-postgres.js';
import { AuditLog } from '../../src/http/audit-log.js';

/**
 * Probe finding 6: the embedded PGlite was a passwordless superuser on a loopback TCP port, so any local process could
 * disable the audit trigger and delete audit rows.
 */
let db: EmbeddedPostgres;
let pool: pg.Pool;

beforeAll(async () => {
  db = await startEmbeddedPostgres({ schema: 'trader' });
  pool = new pg.Pool({ connectionString: db.url, max: 1 });
});

afterAll(async () => {
  await pool?.end();
  await db?.stop();
});

const run = promisify(execFile);
/** Connects to the socket from a child process as `uid` (`undefined`: this process's user); resolves the outcome. */
const connectAs = async (uid: number | undefined): Promise<string> => {
  const script = `require('node:net').connect(${JSON.stringify(join(db.socketDir, '.s.PGSQL.5432'))})
    .on('connect', function () { console.log('connected'); this.destroy(); })
    .on('error', (e) => console.log(e.code));`;
  const { stdout } = await run(process.execPath, ['-e', script], uid === undefined ? {} : { uid, gid: uid });
  return stdout.trim();
};

describe('the embedded PostgreSQL (probe finding 6)', () => {
  it('listens on a Unix socket in a 0700 directory, not on a TCP port', () => {
    expect(new URL(db.url).searchParams.get('host')).toBe(db.socketDir);
    expect(new URL(db.url).port).toBe('');
    expect(statSync(db.socketDir).mode & 0o777).toBe(0o700);
  });

  // Another local user is what the directory's mode keeps out; only root can act as one.
  it.runIf(process.getuid?.() === 0)('refuses another local user, and lets the trader user in', async () => {
    expect(await connectAs(undefined)).toBe('connected');
    expect(await connectAs(65_534)).toBe('EACCES');
  });

  it('runs the application as a role that can write the audit log but not disable its trigger or delete rows', async () => {
    const { rows } = await pool.query(
      'SELECT current_user AS "user", rolsuper AS super, inet_server_addr() AS tcp FROM pg_roles WHERE rolname = current_user',
    );
    expect(rows[0]).toEqual({ user: 'trader_app', super: false, tcp: null });
    const audit = new AuditLog({ pool, schema: 'trader' });
    await audit.init();
    expect(await audit.append({ actor: 'ada', action: 'kill-switch.engage', outcome: 'success' })).toBe(true);
    for (const sql of [
      'ALTER TABLE trader.audit_log DISABLE TRIGGER audit_log_append_only',
      'ALTER TABLE trader.audit_log DISABLE TRIGGER ALL',
      'DELETE FROM trader.audit_log',
      'TRUNCATE trader.audit_log',
      'DROP TABLE trader.audit_log',
      'ALTER ROLE trader_app SUPERUSER',
    ])
      await expect(pool.query(sql), sql).rejects.toMatchObject({ code: '42501' });
    expect((await audit.recent(10)).map((r) => r.actor)).toEqual(['ada']);
    // The trader's own tables are the role's to create and change.
    await pool.query('CREATE TABLE IF NOT EXISTS trader.scratch (id int primary key)');
    await pool.query('INSERT INTO trader.scratch VALUES (1) ON CONFLICT DO NOTHING');
    await pool.query('DROP TABLE trader.scratch');
    await audit.close();
  });
});
