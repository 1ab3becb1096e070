// Generates docs/operations/configuration.md from the trader's configuration sources (read-only):
//   field names and defaults       DEFAULT_CONFIG (apps/trader/src/config/defaults.ts)
//   environment defaults           ENVIRONMENT_DEFAULTS (same file)
//   environment variables          envNameFor() and the ALIASES table of apps/trader/src/config/load-config.ts
//   meanings                       the TSDoc of TraderConfig (apps/trader/src/config/config-types.ts)
//   deployment values              deploy/config/<env>.json
// `npm run config-reference -w @cryptoscalp/deploy` writes it; `--check` exits 1 when the committed file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import {
  configPaths,
  DEFAULT_CONFIG,
  ENVIRONMENT_DEFAULTS,
  envNameFor,
  SECRET_ENV,
} from '../../apps/trader/src/config/index.js';
import { EXIT, type Io, isMain, parseFlags, runScript, stdio } from './cli.js';
import { configFileOf, deployDir, ENVIRONMENTS, type EnvName } from './validate.js';

const configDir = join(deployDir, '..', 'apps', 'trader', 'src', 'config');
/** The generated reference. */
export const referencePath = join(deployDir, '..', 'docs', 'operations', 'configuration.md');

/** The script's `--help` text. */
export const USAGE = `Usage: npx tsx deploy/scripts/config-reference.ts [--check]

  Writes ${'docs/operations/configuration.md'} from the trader's config sources.
  --check   write nothing; exit 1 when the file differs from what would be generated.
  --help    this text.`;

const sourceOf = (file: string) =>
  ts.createSourceFile(file, readFileSync(join(configDir, file), 'utf8'), ts.ScriptTarget.Latest, true);

/** Field path -> TSDoc text (without tags) of the TraderConfig interface, nested type literals included. */
function meanings(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (members: ts.NodeArray<ts.TypeElement>, prefix: string) => {
    for (const m of members) {
      if (!ts.isPropertySignature(m) || m.name === undefined) continue;
      const path = `${prefix}${m.name.getText()}`;
      const docs = ts.getJSDocCommentsAndTags(m).filter(ts.isJSDoc);
      const text = docs.map((d) => ts.getTextOfJSDocComment(d.comment) ?? '').join(' ');
      out.set(path, text.replace(/\s+/g, ' ').trim());
      if (m.type && ts.isTypeLiteralNode(m.type)) walk(m.type.members, `${path}.`);
    }
  };
  const iface = sourceOf('config-types.ts').statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'TraderConfig',
  );
  if (iface === undefined) throw new Error('config-types.ts: no TraderConfig interface');
  walk(iface.members, '');
  return out;
}

/** Field path -> the extra environment variable names of load-config.ts's ALIASES. */
function aliases(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText() === 'ALIASES' && node.initializer) {
      const init = node.initializer;
      if (!ts.isObjectLiteralExpression(init)) throw new Error('load-config.ts: ALIASES is not an object literal');
      for (const p of init.properties) {
        if (!ts.isPropertyAssignment(p) || !ts.isStringLiteral(p.initializer)) continue;
        const path = p.initializer.text;
        out.set(path, [...(out.get(path) ?? []), p.name.getText().replace(/['"]/g, '')]);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceOf('load-config.ts'));
  if (out.size === 0) throw new Error('load-config.ts: no ALIASES found');
  return out;
}

function valueAt(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) cur = (cur as Record<string, unknown> | undefined)?.[part];
  return cur;
}

const show = (v: unknown): string => (v === '' ? "`''`" : `\`${JSON.stringify(v)}\``);
const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The reference as Markdown. */
export function renderReference(): string {
  const docs = meanings();
  const alias = aliases();
  const envDefaults = Object.entries(ENVIRONMENT_DEFAULTS);
  const files = (Object.keys(ENVIRONMENTS) as EnvName[]).map(
    (e) => [e, JSON.parse(readFileSync(configFileOf(e), 'utf8'))] as const,
  );
  const rows = configPaths().map((path) => {
    const meaning = docs.get(path);
    if (meaning === undefined || meaning === '')
      throw new Error(`config field ${path} has no TSDoc in apps/trader/src/config/config-types.ts`);
    const vars = [envNameFor(path), ...(alias.get(path) ?? [])].map((v) => `\`${v}\``).join(', ');
    const byEnv = envDefaults
      .filter(([, d]) => valueAt(d, path) !== undefined)
      .map(([e, d]) => `${e}: ${show(valueAt(d, path))}`);
    const byFile = files
      .filter(([, d]) => valueAt(d, path) !== undefined)
      .map(([e, d]) => `${e}: ${show(valueAt(d, path))}`);
    return `| \`${path}\` | ${vars} | ${show(valueAt(DEFAULT_CONFIG, path))} | ${byEnv.join('<br>')} | ${byFile.join('<br>')} | ${cell(meaning)} |`;
  });
  return `<!-- Generated by deploy/scripts/config-reference.ts (npm run config-reference -w @cryptoscalp/deploy). Do not edit. -->
# Configuration reference

The trader has one configuration, loaded by \`loadConfig\` (\`apps/trader/src/config/load-config.ts\`) in this order,
each layer over the one before:

1. the defaults (\`DEFAULT_CONFIG\`, \`apps/trader/src/config/defaults.ts\`);
2. the environment's defaults (\`ENVIRONMENT_DEFAULTS\`, same file), for the environment named by \`--env\`,
   \`TRADER_ENV\` or \`NODE_ENV\`;
3. the JSON file named by \`--config\` or \`TRADER_CONFIG\`: its top level, then its \`environments.<env>\` section;
4. environment variables: \`TRADER_<PATH>\` for every field (camelCase split by \`_\`, upper case) and the aliases below;
5. the command line (\`--role\`, \`--port\`, \`--data-dir\`, \`--duration\`).

An unknown key in the file, an unknown \`TRADER_*\` variable or a bad value stops the trader with
\`E_TRADER_INVALID_CONFIG\` naming the field. Arrays are comma separated in variables.

## Per-environment files

\`deploy/config/{development,staging,production}.json\` are the deployments' config files (\`TRADER_CONFIG\`); they
hold no secrets. Kubernetes mounts its own file (\`deploy/k8s/base/config.json\`, one file with \`environments\`
sections, \`TRADER_ENV\` set per overlay); the compose kit sets the same values as variables (\`x-trader-env\` in
\`deploy/compose/compose.yaml\`) over the image's \`ENV\`. \`deploy/scripts/deploy.ts\` and \`deploy/test/scripts.test.ts\`
load every one of them with the trader's own loader.

## Secrets

Never in a config file or the image: ${SECRET_ENV.map((s) => `\`${s}\``).join(', ')} (read by \`loadSecrets\`,
\`apps/trader/src/config/secrets.ts\`; the \`_FILE\` forms read a mounted file), and the URL fields that carry
passwords (\`DATABASE_URL\`, \`DATABASE_REPLICA_URLS\`, \`REDIS_URL\`: the image's entrypoint also reads their \`_FILE\` forms).

## Fields

Columns: the field; its environment variables; its default; the environment defaults that change it; the value in the
deployment files \`deploy/config/<env>.json\` that set it; its meaning (the field's TSDoc in
\`apps/trader/src/config/config-types.ts\`).

| Field | Variables | Default | Environment defaults | deploy/config | Meaning |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
}

/** The script: returns its exit code, or `undefined` for `--help`; throws UsageError on a bad command line. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number | undefined> {
  const flags = parseFlags(argv, { check: { type: 'boolean' } });
  if (flags === undefined) return undefined;
  const text = renderReference();
  if (flags.check === true) {
    const current = readFileSync(referencePath, 'utf8');
    if (current === text) return EXIT.ok;
    io.err(`${referencePath} is stale: run npm run config-reference -w @cryptoscalp/deploy\n`);
    return EXIT.failed;
  }
  writeFileSync(referencePath, text);
  io.out(`wrote ${referencePath}\n`);
  return EXIT.ok;
}

if (isMain(import.meta.url)) await runScript(USAGE, main);
