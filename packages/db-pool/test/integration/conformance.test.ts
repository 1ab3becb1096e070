import { serviceUrls, uniqueName } from '@cryptoscalp/testkit';
import { conformanceSuite, loadSecondCopy } from '@cryptoscalp/testkit/conformance';
import {
  BREAKER_CHANNEL,
  CONNECTION_ERROR_CHANNEL,
  DbPoolError,
  DEFAULTS,
  FAILOVER_CHANNEL,
  isDbPoolError,
  PoolManager,
  QUERY_CHANNEL,
  REPLICA_CHANNEL,
  SLOW_QUERY_CHANNEL,
} from '../../src/index.js';
import { admin, backends } from './helpers.js';

/** The manager's name is its application_name: the server shows which backends are still its own. */
const names = new WeakMap<PoolManager, string>();

conformanceSuite<PoolManager>({
  package: 'db-pool',
  async create() {
    const name = uniqueName('conformance');
    const db = new PoolManager({ name, primary: { connectionString: serviceUrls.postgres } });
    names.set(db, name);
    await db.query('select 1');
    return db;
  },
  healthCheck: (db) => db.healthCheck(),
  stats: (db) => db.stats(),
  released: async (db) => (await backends(names.get(db) ?? '')).length === 0,
  defaults: DEFAULTS,
  channels: [
    QUERY_CHANNEL,
    FAILOVER_CHANNEL,
    BREAKER_CHANNEL,
    SLOW_QUERY_CHANNEL,
    CONNECTION_ERROR_CHANNEL,
    REPLICA_CHANNEL,
  ],
  invalidOption: {
    field: 'pool.max',
    construct: () => new PoolManager({ primary: { connectionString: serviceUrls.postgres }, pool: { max: 0 } }),
  },
  codePrefix: 'E_DB',
  hooks: [
    {
      name: 'onSlowQuery',
      channel: SLOW_QUERY_CHANNEL,
      hook: (db) => db.onSlowQuery,
      // Longer than the default slowQueryMs (1 s).
      fire: async (db) => {
        await db.query('select pg_sleep(1.05)');
      },
    },
    {
      name: 'onConnectionError',
      channel: CONNECTION_ERROR_CHANNEL,
      hook: (db) => db.onConnectionError,
      // The server ends the manager's idle session: the pooled client's 'error' event.
      fire: async (db) => {
        await db.query('select 1');
        await admin('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [
          names.get(db) ?? '',
        ]);
      },
    },
  ],
  guard: {
    is: isDbPoolError,
    localClass: DbPoolError,
    // A second instance of the errors module, as a duplicate install would load it.
    foreignError: async () => {
      const copy = await loadSecondCopy<typeof import('../../src/errors.js')>(
        new URL('../../src/errors.ts', import.meta.url),
      );
      return new copy.InvalidOptionError('pool.max', 'from another copy');
    },
  },
});
