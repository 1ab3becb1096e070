import { fileURLToPath } from 'node:url';
import type { Options } from 'tsup';

const source = fileURLToPath(new URL('./src/index.ts', import.meta.url));
/** The packages' tsconfig has `rootDir: '.'`; the contracts' source lies beside the package, under `packages/`. */
const packages = fileURLToPath(new URL('..', import.meta.url));

/**
 * tsup options that inline `@cryptoscalp/contracts` into a package's build: its few constants are bundled into the
 * JavaScript and its types into the emitted `.d.ts`, so the package keeps it a devDependency and a user installs
 * nothing more. Both read the contracts' source, so the build does not depend on the workspaces' build order.
 */
export const inlineContracts = {
  esbuildOptions(options) {
    options.alias = { ...options.alias, '@cryptoscalp/contracts': source };
  },
  dts: {
    resolve: ['@cryptoscalp/contracts'],
    compilerOptions: { rootDir: packages, paths: { '@cryptoscalp/contracts': [source] } },
  },
} satisfies Options;
