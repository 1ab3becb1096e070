import { cpSync, statSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

/**
 * The trader compiles to `dist/` so it runs as plain `node dist/main.js`, with no TypeScript loader at run time.
 *
 * The modules are transpiled one by one (`bundle: false`), so `dist/` mirrors `src/`: `src/http/static-assets.ts`
 * becomes `dist/api/static-assets.js`, and every `new URL('…', import.meta.url)` in the sources (the dashboard,
 * `../dashboard/`; the embedded PostgreSQL worker, `./embedded-postgres-worker.mjs`) resolves in `dist/` exactly as
 * it does in `src/`, once the non-TypeScript files are copied alongside (`onSuccess` below). The loaders need no
 * change, and a file added under `src/` later is picked up by the same rule. Dependencies (the suite's packages
 * included) stay imports that Node resolves from `node_modules`.
 *
 * Three builds run in parallel (tsup runs the entries of a config array concurrently):
 * - the modules (everything under `src/` but `main.ts`), which also cleans `dist/` and copies the assets;
 * - `dist/main.js`, the entry point (the `bin`), the same transpilation plus a `#!/usr/bin/env node` line (a banner
 *   applies to every file of a build, hence its own build);
 * - `dist/issue-token.js` from `scripts/issue-token.ts`, bundled (it imports `../src/…`, which only a bundle resolves
 *   from `dist/`), so tokens can be issued where only the built trader is installed. Its source starts with
 *   `#!/usr/bin/env node`, which esbuild keeps (a banner would add a second, invalid, line).
 */
const common: Options = {
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  dts: false,
  splitting: false,
  skipNodeModulesBundle: true,
  outDir: 'dist',
};
const hashbang = { js: '#!/usr/bin/env node' };
const entryPoints = ['main.js', 'main.js.map', 'issue-token.js', 'issue-token.js.map'];

export default defineConfig([
  {
    ...common,
    name: 'modules',
    entry: ['src/**/*.ts', '!src/main.ts'],
    bundle: false,
    // The other two builds write their files concurrently: keep them.
    clean: entryPoints.map((file) => `!${file}`),
    onSuccess: async () => {
      cpSync('src', 'dist', {
        recursive: true,
        filter: (from) => statSync(from).isDirectory() || !from.endsWith('.ts'),
      });
    },
  },
  { ...common, name: 'main', entry: { main: 'src/main.ts' }, bundle: false, banner: hashbang },
  { ...common, name: 'issue-token', entry: { 'issue-token': 'scripts/issue-token.ts' }, bundle: true },
]);
