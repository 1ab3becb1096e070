import { waitFor } from '@cryptoscalp/testkit';
import { conformanceSuite, loadSecondCopy } from '@cryptoscalp/testkit/conformance';
import { afterAll } from 'vitest';
import {
  DEFAULTS,
  GAP_CHANNEL,
  HUB_CHANNEL,
  isWsManagerError,
  MALFORMED_CHANNEL,
  type ManagedConnection,
  RESYNC_CHANNEL,
  STATE_CHANNEL,
  WebSocketManager,
  WsManagerError,
} from '../../src/index.js';
import { FeedServer } from './helpers/feed-server.js';

const feed = await new FeedServer(5).start();
afterAll(() => feed.stop());

/** A manager with one open connection to the loopback feed. */
interface Subject {
  manager: WebSocketManager;
  connection: ManagedConnection;
  close(): Promise<void>;
}

conformanceSuite<Subject>({
  package: 'ws-manager',
  async create() {
    const manager = new WebSocketManager({ exchanges: { sim: { endpoints: [feed.url()] } } });
    const connection = manager.connect('sim');
    await waitFor(() => connection.state === 'open');
    return { manager, connection, close: () => manager.close() };
  },
  healthCheck: (s) => s.manager.healthCheck(),
  stats: (s) => s.manager.stats(),
  released: (s) => s.connection.state === 'closed',
  defaults: DEFAULTS,
  channels: [STATE_CHANNEL, GAP_CHANNEL, RESYNC_CHANNEL, MALFORMED_CHANNEL, HUB_CHANNEL],
  invalidOption: {
    field: 'exchanges.sim.endpoints',
    construct: () => new WebSocketManager({ exchanges: { sim: { endpoints: [] } } }),
  },
  codePrefix: 'E_WS',
  hooks: [
    {
      name: 'onStateChange',
      channel: STATE_CHANNEL,
      hook: (s) => s.manager.onStateChange,
      fire: async (s) => {
        const connection = s.manager.connect('sim');
        await waitFor(() => connection.state === 'open');
      },
    },
  ],
  guard: {
    is: isWsManagerError,
    localClass: WsManagerError,
    // A second instance of the errors module, as a duplicate install would load it.
    foreignError: async () => {
      const copy = await loadSecondCopy<typeof import('../../src/errors.js')>(
        new URL('../../src/errors.ts', import.meta.url),
      );
      return new copy.WsManagerError(copy.WsManagerErrorCode.Closed, 'from another copy');
    },
  },
});
