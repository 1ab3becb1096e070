// Whether the build is up to date, for `npm start` (scripts/start.mjs) and the tests that run it: make-style, on
// modification times, so a fresh checkout or a branch switch (which touch the files) rebuilds.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The names of the workspaces (under `root`) with a `build` script whose `dist/` is missing, incomplete or older than
 * an input. Inputs: `src/` and `scripts/` (files and directories, so a deleted or renamed file counts too), the
 * workspace's package.json and top-level config files, the root lockfile and tsconfigs. Complete: the files
 * package.json points at under dist/ (main, module, types, exports, bin) exist, and so does the copy of every non-.ts
 * file of `src/` (the trader's dashboard and worker). One stale workspace means a full `npm run build`.
 */
export function staleWorkspaces(root) {
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const dirs = rootPkg.workspaces.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [join(root, pattern)];
    const parent = join(root, pattern.slice(0, -2));
    return existsSync(parent) ? readdirSync(parent).map((name) => join(parent, name)) : [];
  });
  const sharedInputs = ['package-lock.json', 'tsconfig.json', 'tsconfig.base.json'].map((f) => join(root, f));
  const stale = [];
  for (const dir of dirs) {
    const pkgFile = join(dir, 'package.json');
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    if (!pkg.scripts?.build) continue;
    const dist = join(dir, 'dist');
    const src = join(dir, 'src');
    const sources = [...walk(src), ...walk(join(dir, 'scripts'))];
    const topLevel = readdirSync(dir)
      .filter((name) => /\.(json|[cm]?[jt]s)$/.test(name))
      .map((name) => join(dir, name));
    const newestInput = Math.max(...[...sharedInputs, ...topLevel, ...sources].map(mtime));
    const outputs = existsSync(dist) ? walk(dist).filter((p) => !statSync(p).isDirectory()) : [];
    const required = [
      ...declaredOutputs(pkg).map((p) => join(dir, p)),
      ...walk(src)
        .filter((p) => !p.endsWith('.ts') && !statSync(p).isDirectory())
        .map((p) => join(dist, p.slice(src.length))),
    ];
    const complete = outputs.length > 0 && required.every((p) => existsSync(p));
    if (!complete || Math.min(...outputs.map(mtime)) <= newestInput) stale.push(pkg.name);
  }
  return stale;
}

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

/** `dir` and everything under it (empty if missing). */
function walk(dir) {
  if (!existsSync(dir)) return [];
  return [dir, ...readdirSync(dir, { recursive: true }).map((name) => join(dir, name))];
}

/** The paths under dist/ that package.json points at. */
function declaredOutputs(pkg) {
  const found = [];
  const visit = (value) => {
    if (typeof value === 'string') {
      if (/^(\.\/)?dist\//.test(value)) found.push(value);
    } else if (value !== null && typeof value === 'object') {
      for (const v of Object.values(value)) visit(v);
    }
  };
  visit([pkg.main, pkg.module, pkg.types, pkg.exports, pkg.bin]);
  return found;
}
