import { PoolManager } from '@cryptoscalp/db-pool';
import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { afterAll } from 'vitest';

/**
 * The trader's `database` options for a schema of its own on the local PostgreSQL, dropped in the calling test file's
 * `afterAll`. For tests about trading rather than the database: the embedded PGlite's start (a WebAssembly compile)
 * can take longer than a component's start timeout on a machine this loaded, the local server starts in milliseconds.
 * Call it at the top level of a test file.
 */
export function ownSchema(prefix: string): { url: string; schema: string } {
  const schema = uniqueName(prefix);
  afterAll(async () => {
    const admin = new PoolManager({ primary: { connectionString: serviceUrls.postgres } });
    try {
      await admin.query(`drop schema if exists ${schema} cascade`);
    } finally {
      await admin.close();
    }
  });
  return { url: serviceUrls.postgres, schema };
}
