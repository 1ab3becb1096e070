import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Coverage floors per package. They start where the code is and only go up;
 * the goal for every package is 90% of lines or more.
 */
const packageThresholds = {
  'packages/cache/src/**': { lines: 80 },
  'packages/db-pool/src/**': { lines: 80 },
  'packages/ws-manager/src/**': { lines: 80 },
  'packages/monitoring/src/**': { lines: 80 },
  'packages/health/src/**': { lines: 80 },
};

export default defineConfig({
  resolve: {
    alias: {
      '@cryptoscalp/cache': src('./packages/cache/src/index.ts'),
      '@cryptoscalp/db-pool': src('./packages/db-pool/src/index.ts'),
      '@cryptoscalp/ws-manager': src('./packages/ws-manager/src/index.ts'),
      '@cryptoscalp/monitoring': src('./packages/monitoring/src/index.ts'),
      '@cryptoscalp/health': src('./packages/health/src/index.ts'),
      '@cryptoscalp/testkit': src('./tools/testkit/src/index.ts'),
    },
  },
  test: {
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      exclude: ['packages/*/src/**/types.ts'],
      reporter: ['text-summary', 'json-summary', 'html'],
      reportsDirectory: './coverage',
      thresholds: packageThresholds,
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/unit/**/*.test.ts', 'apps/*/test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'packages/*/test/integration/**/*.test.ts',
            'apps/*/test/integration/**/*.test.ts',
            'tools/*/test/**/*.test.ts',
          ],
          environment: 'node',
          globalSetup: ['./tools/testkit/src/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
    ],
  },
});
