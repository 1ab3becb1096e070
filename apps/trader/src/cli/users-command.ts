// `trader users add`: the first admin (and any user) without the API. Prints the TOTP enrolment URI once.
import { readFile } from 'node:fs/promises';
import { AuditLog, auditLogDdl } from '../http/audit-log.js';
import { isApiError } from '../http/errors.js';
import type { Role } from '../http/types.js';
import { usersDdl } from '../http/users/ddl.js';
import { SESSION_DEFAULTS } from '../http/users/options.js';
import { createUser } from '../http/users/users.js';
import { AdminUsageError, DATABASE_USAGE, openDatabase, parseAdminArgs } from './admin-db.js';

/** Usage text of `trader users`. */
export const USERS_COMMAND_USAGE = `usage: trader users add --username U --role viewer|trader|admin --password-file F [--totp-issuer NAME]

  Creates a user (argon2id password hash, a new TOTP secret) and prints the otpauth:// URI to scan into an
  authenticator app: it is shown once. The password is the file's content without its final newline.

${DATABASE_USAGE}`;

/** Runs `trader users ...`; resolves with the exit code (0 created, 1 refused, 2 usage). */
export async function runUsersCommand(
  argv: readonly string[],
  io: { out(line: string): void; err(line: string): void; env: NodeJS.ProcessEnv },
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.out(USERS_COMMAND_USAGE);
    return 0;
  }
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    if (command !== 'add')
      throw new AdminUsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
    const v = parseAdminArgs(rest, {
      username: { type: 'string' },
      role: { type: 'string' },
      'password-file': { type: 'string' },
      'totp-issuer': { type: 'string' },
    });
    for (const k of ['username', 'role', 'password-file'] as const)
      if (v[k] === undefined) throw new AdminUsageError(`--${k} is required`);
    const password = (await readFile(v['password-file'] as string, 'utf8')).replace(/\r?\n$/, '');
    db = openDatabase(v, io.env);
    await db.pool.query(usersDdl(db.schema));
    await db.pool.query(auditLogDdl(db.schema));
    const user = await createUser(
      db.pool,
      db.schema,
      { username: v.username as string, role: v.role as Role, password },
      (v['totp-issuer'] as string | undefined) ?? SESSION_DEFAULTS.totpIssuer,
    );
    const audit = new AuditLog({ pool: db.pool, schema: db.schema, log: io.err });
    await audit.init();
    const written = await audit.append({
      actor: 'cli',
      action: 'user.create',
      outcome: 'success',
      detail: { username: user.username, newRole: user.role, via: 'trader users add' },
    });
    await audit.close();
    io.out(`trader: user ${user.username} (${user.role}) created`);
    io.out(`trader: scan this into an authenticator app now; it is not shown again:`);
    io.out(user.otpauthUri);
    return written ? 0 : 1;
  } catch (e) {
    if (e instanceof AdminUsageError) {
      io.err(`trader users: ${e.message}`);
      io.err(USERS_COMMAND_USAGE);
      return 2;
    }
    io.err(`trader users: ${isApiError(e) && e.field !== undefined ? `${e.field}: ` : ''}${(e as Error).message}`);
    return 1;
  } finally {
    await db?.pool.end();
  }
}
