// `trader audit verify`: recomputes the audit log's hash chain and names the first broken row.
import { verifyAuditChain } from '../http/audit-chain.js';
import { AdminUsageError, DATABASE_USAGE, openDatabase, parseAdminArgs } from './admin-db.js';

/** Usage text of `trader audit`. */
export const AUDIT_COMMAND_USAGE = `usage: trader audit verify [--json]

  Checks the audit log's hash chain: exit 0 when intact, 1 at the first row changed, inserted or removed in the
  middle (its id and why), 2 for a usage error. Prints the head (last id and hash): keep it elsewhere, since cutting
  the newest rows off the end cannot be seen from the chain alone.

  --json   print the report as JSON
${DATABASE_USAGE}`;

/** Runs `trader audit ...`; resolves with the exit code. */
export async function runAuditCommand(
  argv: readonly string[],
  io: { out(line: string): void; err(line: string): void; env: NodeJS.ProcessEnv },
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.out(AUDIT_COMMAND_USAGE);
    return 0;
  }
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    if (command !== 'verify')
      throw new AdminUsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
    const v = parseAdminArgs(rest, { json: { type: 'boolean' } });
    db = openDatabase(v, io.env);
    const report = await verifyAuditChain(db.pool, db.schema);
    if (v.json === true) io.out(JSON.stringify(report));
    else if (report.ok)
      io.out(
        `audit: chain intact: ${report.rows} rows${report.unchained > 0 ? ` (${report.unchained} older unchained rows)` : ''}` +
          (report.head === undefined ? '' : `; head ${report.head.id} ${report.head.hash}`),
      );
    else
      io.out(
        `audit: chain BROKEN at row ${report.broken?.id}: ${report.broken?.reason} (${report.rows} rows intact before it)`,
      );
    return report.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof AdminUsageError) {
      io.err(`trader audit: ${e.message}`);
      io.err(AUDIT_COMMAND_USAGE);
      return 2;
    }
    io.err(`trader audit: ${(e as Error).message}`);
    return 1;
  } finally {
    await db?.pool.end();
  }
}
