import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Coverage floors per package: a little under what the suite measured when they were set
 * (timing-dependent paths vary between runs). They only go up; the goal is 90% of lines or more.
 */
const packageThresholds = {
  'packages/cache/src/**': { lines: 94, branches: 88, functions: 93 },
  'packages/db-pool/src/**': { lines: 93, branches: 85, functions: 93 },
  'packages/ws-manager/src/**': { lines: 94, branches: 85, functions: 91 },
  'packages/monitoring/src/**': { lines: 94, branches: 83, functions: 92 },
  'packages/health/src/**': { lines: 96, branches: 89, functions: 95 },
  'apps/trader/src/**': { lines: 93, branches: 83, functions: 90 },
};

export default defineConfig({
  resolve: {
    alias: {
      '@cryptoscalp/cache': src('./packages/cache/src/index.ts'),
      '@cryptoscalp/contracts': src('./packages/contracts/src/index.ts'),
      '@cryptoscalp/db-pool': src('./packages/db-pool/src/index.ts'),
      '@cryptoscalp/ws-manager/hub': src('./packages/ws-manager/src/hub.ts'),
      '@cryptoscalp/ws-manager': src('./packages/ws-manager/src/index.ts'),
      '@cryptoscalp/monitoring': src('./packages/monitoring/src/index.ts'),
      '@cryptoscalp/health': src('./packages/health/src/index.ts'),
      // Before '@cryptoscalp/testkit': an alias also matches the names under it.
      '@cryptoscalp/testkit/conformance': src('./tools/testkit/src/conformance/index.ts'),
      '@cryptoscalp/testkit': src('./tools/testkit/src/index.ts'),
      // CRYPTOSCALP_IOREDIS=6 runs the suites against ioredis 6 (the `ioredis6` alias devDependency): npm run test:ioredis6.
      ...(process.env.CRYPTOSCALP_IOREDIS === '6' ? { ioredis: 'ioredis6' } : {}),
    },
  },
  test: {
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts', 'apps/*/src/**/*.ts'],
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
          // The chaos suite's short run has its own project (`npm run chaos:short`).
          exclude: [...configDefaults.exclude, 'tools/chaos/test/short-run.test.ts'],
          environment: 'node',
          globalSetup: ['./tools/testkit/src/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
      {
        extends: true,
        test: {
          // The chaos suite (tools/chaos): the composed system from the build under a short seeded schedule of faults.
          name: 'chaos',
          include: ['tools/chaos/test/short-run.test.ts'],
          environment: 'node',
          testTimeout: 900_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
      {
        extends: true,
        test: {
          // The deployment kit (deploy/): image build and run with podman, compose, kustomize, Nginx,
          // promtool/amtool, the rehearsal. Also runnable alone: `npm run test:deploy`.
          name: 'deploy',
          include: ['deploy/test/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['./tools/testkit/src/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          pool: 'forks',
        },
      },
    ],
  },
});
