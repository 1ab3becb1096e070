// `trader keys`: encryption at rest. Status, rotation (a new data key, then re-encryption, resumable), KEK rewrap.

import { isTraderError } from '../errors.js';
import { AuditLog } from '../http/audit-log.js';
import { ENCRYPTED_FIELDS } from '../security/encrypted-fields.js';
import { isKeyringError } from '../security/errors.js';
import { Keyring } from '../security/keyring.js';
import { reencryptAll } from '../security/reencrypt.js';
import { AdminUsageError, DATABASE_USAGE, openDatabase, parseAdminArgs } from './admin-db.js';
import { adminKek, KEK_OPTIONS, KEK_USAGE } from './admin-kek.js';

/** Usage text of `trader keys`. */
export const KEYS_COMMAND_USAGE = `usage: trader keys status [--json]
       trader keys rotate [--no-wait] [--batch-size N]
       trader keys resume [--batch-size N]
       trader keys rewrap

  status   the data keys (active, retiring, retired), how many values each one seals, the last rotation
  rotate   adds a new data key, makes it the one that encrypts, and re-encrypts every value sealed with an older key
           (TOTP secrets, venue API keys) in batches; the old keys are retired (deleted) once nothing uses them.
           --no-wait leaves the re-encryption to the running trader (it looks every 10 s). Stopped or crashed
           midway, it is resumed by \`trader keys resume\` or by the running trader. Audited (key.rotate,
           key.reencrypt, key.retire).
  resume   re-encrypts what a rotation left, then retires the old keys
  rewrap   wraps every data key with the KEK of TRADER_KEK_FILE (after replacing the KEK: give the old one in
           TRADER_KEK_PREVIOUS_FILE); the values themselves are not touched

  Exit codes: 0 done, 1 failed or values left that cannot be decrypted, 2 usage or configuration error.
${KEK_USAGE}
${DATABASE_USAGE}`;

/** Runs `trader keys ...`; resolves with the exit code. */
export async function runKeysCommand(
  argv: readonly string[],
  io: { out(line: string): void; err(line: string): void; env: NodeJS.ProcessEnv },
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.out(KEYS_COMMAND_USAGE);
    return 0;
  }
  let db: ReturnType<typeof openDatabase> | undefined;
  let audit: AuditLog | undefined;
  try {
    if (command === undefined || !['status', 'rotate', 'resume', 'rewrap'].includes(command))
      throw new AdminUsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
    const v = parseAdminArgs(rest, {
      ...KEK_OPTIONS,
      ...(command === 'status' ? { json: { type: 'boolean' } } : {}),
      ...(command === 'rotate' ? { 'no-wait': { type: 'boolean' } } : {}),
      ...(command === 'rotate' || command === 'resume' ? { 'batch-size': { type: 'string' } } : {}),
    });
    const batchSize = v['batch-size'] === undefined ? 100 : Number(v['batch-size']);
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw new AdminUsageError('--batch-size must be an integer from 1 to 10000');
    const kek = adminKek(v, io.env);
    if (kek.warning !== undefined) io.err(kek.warning);
    db = openDatabase(v, io.env);
    const keyring = new Keyring({ pool: db.pool, schema: db.schema, kek: kek.kek, previousKeks: kek.previous });
    await keyring.ready();

    if (command === 'status') {
      const st = await keyring.status(ENCRYPTED_FIELDS);
      if (v.json === true) {
        io.out(JSON.stringify(st));
        return 0;
      }
      io.out(`keys: KEK ${st.kekId}`);
      if (st.keys.length === 0) io.out('keys: no data key yet (the first is made when the first value is encrypted)');
      for (const k of st.keys)
        io.out(
          `keys: ${k.id} ${k.state.padEnd(8)} ${String(st.valuesByKey[k.id] ?? 0).padStart(6)} values  created ${k.createdAt}` +
            (k.since === null ? '' : `  ${k.state} since ${k.since}`) +
            (k.state !== 'retired' && k.kekId !== st.kekId ? `  (wrapped by ${k.kekId})` : ''),
        );
      const r = st.lastRotation;
      if (r !== null)
        io.out(
          `keys: last rotation #${r.id} by ${r.actor} at ${r.startedAt}: ${r.reencrypted} re-encrypted, ${r.unreadable} unreadable, ` +
            (r.finishedAt === null
              ? 'in progress (trader keys resume, or the running trader, continues it)'
              : `finished ${r.finishedAt}`),
        );
      return 0;
    }

    audit = new AuditLog({ pool: db.pool, schema: db.schema, log: io.err });
    await audit.init();
    const log = audit;
    const auditFn = (e: {
      actor: string;
      action: string;
      outcome: 'success' | 'failure';
      detail: Record<string, unknown>;
    }) => log.append(e);

    if (command === 'rewrap') {
      const done = await keyring.rewrap();
      await log.append({
        actor: 'cli',
        action: 'key.rewrap',
        outcome: 'success',
        detail: { keys: done, kekId: kek.kek.id },
      });
      io.out(
        `keys: ${done.length} data keys wrapped again with ${kek.kek.id}${done.length ? `: ${done.join(', ')}` : ''}`,
      );
      return 0;
    }

    if (command === 'rotate') {
      const r = await keyring.rotate('cli');
      await log.append({
        actor: 'cli',
        action: 'key.rotate',
        outcome: 'success',
        detail: { keyId: r.keyId, retiring: r.retiring, rotation: r.rotationId },
      });
      io.out(
        `keys: ${r.keyId} is the active data key now${r.retiring.length ? `; retiring ${r.retiring.join(', ')}` : ''}`,
      );
      if (v['no-wait'] === true) {
        io.out('keys: the running trader re-encrypts in the background (trader keys status shows the progress)');
        return 0;
      }
    }
    let last = 0;
    const result = await reencryptAll({
      keyring,
      pool: db.pool,
      actor: 'cli',
      audit: auditFn,
      batchSize,
      onProgress: (p) => {
        if (p.reencrypted - last >= 1_000) {
          last = p.reencrypted;
          io.out(`keys: ${p.reencrypted} values re-encrypted so far`);
        }
      },
    });
    io.out(
      `keys: ${result.reencrypted} values re-encrypted, ${result.retired.length} keys retired${result.retired.length ? ` (${result.retired.join(', ')})` : ''}` +
        (result.unreadable > 0
          ? `, ${result.unreadable} values CANNOT BE DECRYPTED (see the audit log, action key.reencrypt)`
          : '') +
        (result.remaining.length > 0 ? `; still retiring: ${result.remaining.join(', ')}` : ''),
    );
    return result.remaining.length === 0 ? 0 : 1;
  } catch (e) {
    if (e instanceof AdminUsageError) {
      io.err(`trader keys: ${e.message}`);
      io.err(KEYS_COMMAND_USAGE);
      return 2;
    }
    if (isTraderError(e)) {
      io.err(`trader keys: configuration error${e.field ? ` in ${e.field}` : ''}: ${e.message}`);
      return 2;
    }
    io.err(`trader keys: ${isKeyringError(e) ? `${e.code}: ` : ''}${(e as Error).message}`);
    return 1;
  } finally {
    await audit?.close();
    await db?.pool.end();
  }
}
