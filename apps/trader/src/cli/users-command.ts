// `trader users add`: the first admin (and any user) without the API; `trader users reset-mfa`: an administrator's
// reset of a user's MFA. Both print the TOTP enrolment URI and the recovery codes once.
import { readFile } from 'node:fs/promises';
import { isTraderError } from '../errors.js';
import { AuditLog, auditLogDdl } from '../http/audit-log.js';
import { isApiError } from '../http/errors.js';
import type { Role } from '../http/types.js';
import { usersDdl } from '../http/users/ddl.js';
import { SESSION_DEFAULTS } from '../http/users/options.js';
import { migratePlainTotp } from '../http/users/sessions.js';
import { createUser, type Enrolment, resetMfa } from '../http/users/users.js';
import { Keyring } from '../security/keyring.js';
import { AdminUsageError, DATABASE_USAGE, openDatabase, parseAdminArgs } from './admin-db.js';
import { adminKek, KEK_OPTIONS, KEK_USAGE } from './admin-kek.js';

/** Usage text of `trader users`. */
export const USERS_COMMAND_USAGE = `usage: trader users add --username U --role viewer|trader|admin --password-file F [--totp-issuer NAME]
       trader users reset-mfa --username U [--totp-issuer NAME]

  add         creates a user (argon2id password hash, a new TOTP secret encrypted at rest, 10 one-time recovery
              codes) and prints the otpauth:// URI to scan into an authenticator app and the recovery codes: they
              are shown once. The password is the file's content without its final newline.
  reset-mfa   a lost authenticator: a new TOTP secret and new recovery codes (the old ones stop working), printed
              once; the user's sessions can no longer be refreshed (access tokens already issued expire within
              their lifetime; POST /api/users/{username}/mfa/reset also refuses them at once). Audited.

${KEK_USAGE}
${DATABASE_USAGE}`;

/** Runs `trader users ...`; resolves with the exit code (0 done, 1 refused, 2 usage or configuration). */
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
  let audit: AuditLog | undefined;
  try {
    if (command !== 'add' && command !== 'reset-mfa')
      throw new AdminUsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
    const v = parseAdminArgs(rest, {
      ...KEK_OPTIONS,
      username: { type: 'string' },
      'totp-issuer': { type: 'string' },
      ...(command === 'add' ? { role: { type: 'string' }, 'password-file': { type: 'string' } } : {}),
    });
    for (const k of command === 'add' ? ['username', 'role', 'password-file'] : ['username'])
      if (v[k] === undefined) throw new AdminUsageError(`--${k} is required`);
    const password =
      command === 'add' ? (await readFile(v['password-file'] as string, 'utf8')).replace(/\r?\n$/, '') : '';
    const kek = adminKek(v, io.env);
    if (kek.warning !== undefined) io.err(kek.warning);
    db = openDatabase(v, io.env);
    const keyring = new Keyring({ pool: db.pool, schema: db.schema, kek: kek.kek, previousKeks: kek.previous });
    await keyring.ready();
    await db.pool.query(usersDdl(db.schema));
    await db.pool.query(auditLogDdl(db.schema));
    audit = new AuditLog({ pool: db.pool, schema: db.schema, log: io.err });
    await audit.init();
    await migratePlainTotp(db.pool, db.schema, keyring, audit);
    const issuer = (v['totp-issuer'] as string | undefined) ?? SESSION_DEFAULTS.totpIssuer;
    const username = v.username as string;
    let enrolment: Enrolment;
    let written: boolean;
    if (command === 'add') {
      const user = await createUser(db.pool, db.schema, keyring, { username, role: v.role as Role, password }, issuer);
      written = await audit.append({
        actor: 'cli',
        action: 'user.create',
        outcome: 'success',
        detail: { username: user.username, newRole: user.role, via: 'trader users add' },
      });
      io.out(`trader: user ${user.username} (${user.role}) created`);
      enrolment = user;
    } else {
      const r = await resetMfa(db.pool, db.schema, keyring, username, issuer);
      // Their refresh tokens stop working here; gateways with a Redis revocation list refuse the access tokens
      // when they expire (the API's reset revokes them at once).
      await db.pool.query(
        `UPDATE "${db.schema}".sessions SET revoked_at = now(), revoked_reason = 'mfa reset' WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL`,
        [r.sessions],
      );
      written = await audit.append({
        actor: 'cli',
        action: 'user.mfa.reset',
        outcome: 'success',
        detail: { username, sessionsRevoked: r.sessions.length, via: 'trader users reset-mfa' },
      });
      io.out(`trader: MFA of ${username} reset; ${r.sessions.length} sessions revoked`);
      enrolment = r;
    }
    io.out('trader: scan this into an authenticator app now; it is not shown again:');
    io.out(enrolment.otpauthUri);
    io.out('trader: one-time recovery codes (each replaces a TOTP code once); keep them offline, not shown again:');
    for (const c of enrolment.recoveryCodes) io.out(`  ${c}`);
    return written ? 0 : 1;
  } catch (e) {
    if (e instanceof AdminUsageError) {
      io.err(`trader users: ${e.message}`);
      io.err(USERS_COMMAND_USAGE);
      return 2;
    }
    if (isTraderError(e)) {
      io.err(`trader users: configuration error${e.field ? ` in ${e.field}` : ''}: ${e.message}`);
      return 2;
    }
    io.err(`trader users: ${isApiError(e) && e.field !== undefined ? `${e.field}: ` : ''}${(e as Error).message}`);
    return 1;
  } finally {
    await audit?.close();
    await db?.pool.end();
  }
}
