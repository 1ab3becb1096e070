import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited } from '../src/process.js';
import { reachable, serviceUrls } from '../src/services.js';

// What a team meets when it installs ONE package from the registry: each package is packed, installed from its
// tarball into its own empty project (only its own peers beside it, so one package's dependencies cannot hide
// another's missing ones), then imported from ESM and CommonJS, type-checked strictly with skipLibCheck off under
// TypeScript 5.9 and 7, and its README's quick usage is run as written against the local Redis and PostgreSQL.
// The projects live in a temp dir outside the repository; npm's cache keeps a warm run fast. The six projects are
// type-checked as one program (a tsconfig one level up), which costs one compiler start per TypeScript version
// instead of six: every import still resolves from its own project's node_modules, so nothing is shared but
// @types/node and the compilers, installed one level up.

const root = join(import.meta.dirname, '..', '..', '..');

/** The registry packages a consumer installs beside each package: its required peers, nothing optional. */
const PEERS: Record<string, string[]> = {
  contracts: [],
  cache: ['ioredis'],
  'db-pool': ['pg'],
  'ws-manager': [],
  monitoring: ['prom-client'],
  health: [],
};
const PACKAGES = Object.keys(PEERS);
const QUICK_USAGE_MAX_LINES = 15;
const QUICK_USAGE_TIMEOUT_MS = 30_000;
/** What each quick usage prints when it did what its comments say. */
const QUICK_USAGE_PRINTS: Record<string, string> = {
  contracts: 'breaker: open',
  cache: 'bid: 64000',
  'db-pool': 'answer: 42',
  'ws-manager': 'price: 64000',
  monitoring: 'component="orders"} 4',
  health: "200 { status: 'pass'",
};
/** Node's own types, as in any Node TypeScript project (the published types use node:http, Buffer...). */
const TYPES_NODE = '@types/node@^20.19.0';
const TYPESCRIPTS = { '5.9': 'typescript@5.9.3', '7': 'typescript@^7.0.2' } as const;

interface Result {
  code: number | null;
  stdout: string;
  /** stdout and stderr interleaved, for failure messages. */
  output: string;
}

const children = new Set<ChildProcess>();

/** Runs a command to completion (killed by PID after `timeoutMs`), keeping stdout and stderr together. */
async function run(command: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Result> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
  children.add(child);
  let output = '';
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk;
    output += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk));
  const timer = setTimeout(() => {
    output += `\n[killed after ${timeoutMs} ms]`;
    child.kill('SIGKILL');
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      output += `\n[spawn error] ${error.message}`;
      resolve(null);
    });
    child.once('close', (exitCode) => resolve(exitCode));
  });
  clearTimeout(timer);
  children.delete(child);
  return { code, stdout, output };
}

const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], cwd);
const node = (file: string, cwd: string, timeoutMs?: number) => run(process.execPath, [file], cwd, timeoutMs);

/** The first ```ts or ```js block of a README: the quick usage a newcomer copies. */
function quickUsage(readme: string): string {
  const match = /```(?:ts|js|typescript|javascript)\n([\s\S]*?)```/.exec(readme);
  if (!match?.[1]) throw new Error('no ```ts or ```js block in the README');
  return match[1];
}

let work: string;
const tarballs = new Map<string, { file: string; files: string[] }>();
const projects = new Map<string, string>();

beforeAll(async () => {
  for (const name of PACKAGES) {
    const dist = join(root, 'packages', name, 'dist', 'index.js');
    await readFile(dist).catch(() => {
      throw new Error(`${dist} is missing: build the packages first (npm run build)`);
    });
  }
  for (const url of [serviceUrls.redis, serviceUrls.postgres]) {
    if (!(await reachable(url)))
      throw new Error(`${url} is not reachable: start the local services (npm run services)`);
  }
  work = await mkdtemp(join(tmpdir(), 'cryptoscalp-packed-consumer-'));
  const packDir = join(work, 'tarballs');
  await mkdir(packDir);
  for (const name of PACKAGES) {
    const packed = await npm(
      ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir],
      join(root, 'packages', name),
    );
    if (packed.code !== 0) throw new Error(`npm pack ${name} failed:\n${packed.output}`);
    const [info] = JSON.parse(packed.stdout) as {
      filename: string;
      files: { path: string }[];
    }[];
    if (!info) throw new Error(`npm pack ${name} printed no result`);
    tarballs.set(name, { file: join(packDir, info.filename), files: info.files.map((f) => f.path) });
  }

  // One level up: the compilers and @types/node, and the tsconfig that checks the six projects.
  await writeFile(join(work, 'package.json'), JSON.stringify({ name: 'consumers', private: true }));
  await writeFile(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        skipLibCheck: false,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        types: ['node'],
        noEmit: true,
      },
      include: ['*/quick-usage.ts', '*/require.cts'],
    }),
  );
  const installs = [
    npm(
      [
        'install',
        TYPES_NODE,
        ...Object.entries(TYPESCRIPTS).map(([version, spec]) => `typescript-${version}@npm:${spec}`),
      ],
      work,
    ),
  ];
  for (const name of PACKAGES) {
    const dir = join(work, name);
    projects.set(name, dir);
    await mkdir(dir);
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }),
    );
    const readme = await readFile(join(root, 'packages', name, 'README.md'), 'utf8');
    await writeFile(join(dir, 'quick-usage.ts'), quickUsage(readme));
    // Every export seen from CommonJS: the package's d.cts is type-checked through this file.
    await writeFile(
      join(dir, 'require.cts'),
      `import * as pkg from '@cryptoscalp/${name}';\nexport const names: string[] = Object.keys(pkg);\n`,
    );
    await writeFile(
      join(dir, 'exports.mjs'),
      `console.log(JSON.stringify(Object.keys(await import('@cryptoscalp/${name}')).sort()));\n`,
    );
    await writeFile(
      join(dir, 'exports.cjs'),
      `console.log(JSON.stringify(Object.keys(require('@cryptoscalp/${name}')).sort()));\n`,
    );
    installs.push(npm(['install', tarballs.get(name)?.file ?? '', ...(PEERS[name] ?? [])], dir));
  }
  const results = await Promise.all(installs);
  const failed = results.find((r) => r.code !== 0);
  if (failed) throw new Error(`npm install failed:\n${failed.output}`);
}, 240_000);

afterAll(async () => {
  for (const child of children) {
    child.kill('SIGKILL');
    await exited(child).catch(() => {});
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe.each(PACKAGES)('@cryptoscalp/%s installed alone from its tarball', (name) => {
  const project = () => projects.get(name) ?? '';

  it('ships LICENSE, dist and a README that works on the npm page', async () => {
    const files = tarballs.get(name)?.files ?? [];
    expect(files).toContain('LICENSE');
    expect(files).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']),
    );
    const installed = join(project(), 'node_modules', '@cryptoscalp', name);
    expect(await readFile(join(installed, 'LICENSE'), 'utf8')).toBe(await readFile(join(root, 'LICENSE'), 'utf8'));
    for (const file of ['index.js', 'index.cjs']) {
      const text = await readFile(join(installed, 'dist', file), 'utf8');
      expect(text.match(/^\/\/# sourceMappingURL=.*$/gm), file).toEqual([`//# sourceMappingURL=${file}.map`]);
      expect(text.trimEnd().endsWith(`//# sourceMappingURL=${file}.map`), file).toBe(true);
    }
    const readme = await readFile(join(installed, 'README.md'), 'utf8');
    // Monorepo-only commands and relative links do not work for someone reading this on npm.
    expect(readme).not.toMatch(/npm run \S+ -w|npx tsx (packages|examples)\/|\]\(\.\.?\//);
  });

  it('imports from ESM and requires from CommonJS with the same exports, without optional peers', async () => {
    const esm = await node('exports.mjs', project());
    const cjs = await node('exports.cjs', project());
    expect(esm.code, esm.output).toBe(0);
    expect(cjs.code, cjs.output).toBe(0);
    const names = JSON.parse(esm.stdout) as string[];
    // @cryptoscalp/contracts is types plus its four registry values; every other package exports far more.
    expect(names.length).toBeGreaterThanOrEqual(name === 'contracts' ? 4 : 6);
    expect(JSON.parse(cjs.stdout)).toEqual(names);
  });

  it(
    `runs the README quick usage as written (at most ${QUICK_USAGE_MAX_LINES} lines) to completion`,
    async () => {
      const code = await readFile(join(project(), 'quick-usage.ts'), 'utf8');
      expect(code.trimEnd().split('\n').length).toBeLessThanOrEqual(QUICK_USAGE_MAX_LINES);
      // Types are checked below; here the block only has to run, so it is transpiled without a check.
      const { outputText } = ts.transpileModule(code, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      await writeFile(join(project(), 'quick-usage.mjs'), outputText);
      const ran = await node('quick-usage.mjs', project(), QUICK_USAGE_TIMEOUT_MS);
      expect(ran.output).not.toContain('[killed after');
      expect(ran.code, ran.output).toBe(0);
      expect(ran.stdout).toContain(QUICK_USAGE_PRINTS[name]);
    },
    QUICK_USAGE_TIMEOUT_MS + 5_000,
  );
});

describe('the six consumer projects', () => {
  it('cover every published package', async () => {
    const published: string[] = [];
    for (const dir of await readdir(join(root, 'packages'))) {
      const manifest = await readFile(join(root, 'packages', dir, 'package.json'), 'utf8').catch(() => undefined);
      if (manifest !== undefined && !(JSON.parse(manifest) as { private?: boolean }).private) published.push(dir);
    }
    expect(PACKAGES.toSorted()).toEqual(published.toSorted());
  });

  // opossum 10 requires Node 22+; the packages accept 9 and 10, and npm picks by the running Node's version.
  it('get the opossum major that supports the running Node', async () => {
    const major = Number(process.versions.node.split('.')[0]);
    for (const name of ['cache', 'db-pool', 'ws-manager']) {
      const manifest = join(projects.get(name) ?? '', 'node_modules', 'opossum', 'package.json');
      const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string };
      expect(version.split('.')[0], name).toBe(major >= 22 ? '10' : '9');
    }
  });

  it.each(Object.keys(TYPESCRIPTS))(
    'type-check their quick usage (ESM) and every export (CommonJS) strictly, skipLibCheck off, under TypeScript %s',
    async (version) => {
      const tsc = join(work, 'node_modules', `typescript-${version}`, 'bin', 'tsc');
      const shown = await run(process.execPath, [tsc, '--version'], work);
      expect(shown.stdout).toContain(`Version ${version}.`);
      const checked = await run(
        process.execPath,
        [tsc, '-p', 'tsconfig.json', '--listFiles', '--pretty', 'false'],
        work,
      );
      expect(checked.output.split('\n').filter((line) => line.includes('error TS'))).toEqual([]);
      expect(checked.code, checked.output).toBe(0);
      // The check covered each package's ESM and CommonJS declarations, from its own project.
      for (const name of PACKAGES) {
        expect(checked.stdout).toContain(`${name}/node_modules/@cryptoscalp/${name}/dist/index.d.ts`);
        expect(checked.stdout).toContain(`${name}/node_modules/@cryptoscalp/${name}/dist/index.d.cts`);
      }
    },
    150_000,
  );
});

describe('@cryptoscalp/monitoring without its optional peers', () => {
  const notification = {
    id: 'n-1',
    status: 'firing',
    notifier: 'x',
    groupKey: 'g',
    groupLabels: {},
    commonLabels: {},
    alerts: [],
    escalationLevel: 0,
    timestamp: 0,
    source: 'consumer',
  };
  const script = (load: string) => `${load}
const notifiers = [
  new EmailNotifier({ transport: { host: '127.0.0.1' }, from: 'a@example.com', to: 'b@example.com' }),
  new SlackNotifier({ token: 'xoxb-not-used', channel: '#alerts' }),
];
for (const notifier of notifiers) {
  try {
    await notifier.send(${JSON.stringify(notification)}, new AbortController().signal);
    console.log('sent');
  } catch (error) {
    console.log(JSON.stringify({ code: error.code, retryable: error.retryable, message: error.message }));
  }
}
`;

  it.each([
    ['ESM', 'missing-peer.mjs', "import { EmailNotifier, SlackNotifier } from '@cryptoscalp/monitoring';"],
    ['CommonJS', 'missing-peer.cjs', "const { EmailNotifier, SlackNotifier } = require('@cryptoscalp/monitoring');"],
  ])('from %s, a notifier whose peer is not installed fails its sends naming the package', async (_, file, load) => {
    const dir = projects.get('monitoring') ?? '';
    for (const peer of ['nodemailer', '@slack/web-api']) {
      await expect(
        readFile(join(dir, 'node_modules', peer, 'package.json')),
        `${peer} was installed`,
      ).rejects.toThrow();
    }
    const body = script(load);
    // CommonJS has no top-level await.
    await writeFile(join(dir, file), file.endsWith('.cjs') ? `(async () => {\n${body}\n})();\n` : body);
    const ran = await node(file, dir);
    expect(ran.code, ran.output).toBe(0);
    const [email, slack] = ran.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(email).toEqual({
      code: 'E_MONITORING_MISSING_PEER',
      retryable: false,
      message: expect.stringContaining('npm install nodemailer'),
    });
    expect(slack).toEqual({
      code: 'E_MONITORING_MISSING_PEER',
      retryable: false,
      message: expect.stringContaining('npm install @slack/web-api'),
    });
  });
});
