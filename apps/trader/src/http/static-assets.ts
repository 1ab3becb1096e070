import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** One servable file. */
export interface StaticAsset {
  body: Buffer;
  contentType: string;
  /** Strong ETag (quoted SHA-256 prefix of the body). */
  etag: string;
  cacheControl: string;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

const SOURCES = ['app.js', 'style.css'] as const;

/**
 * Libraries served from `node_modules` (no CDN: the dashboard's CSP is `script-src 'self'`), by served name. Resolved
 * through the package's `package.json` (which its `exports` allow) because the standalone build is not exported.
 */
const VENDORED: Record<string, { pkg: string; file: string }> = {
  // TradingView Lightweight Charts (Apache-2.0; the page links to tradingview.com as its NOTICE asks).
  'lightweight-charts.js': {
    pkg: 'lightweight-charts',
    file: 'dist/lightweight-charts.standalone.production.js',
  },
};

function vendoredUrl({ pkg, file }: { pkg: string; file: string }): URL {
  const manifest = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
  return new URL(file, pathToFileURL(manifest));
}

/**
 * Loads the dashboard from `src/dashboard/` once (plus the {@link VENDORED} libraries): `index.html` (revalidated on
 * every load: `no-cache` + ETag), each asset under a content-hashed name (`/assets/app.3f2a1b9c.js`, cached a year, `immutable`)
 * and under its plain name (`max-age=60, must-revalidate`). The HTML references the hashed names, so a CDN
 * can cache everything and a deploy is visible at the next page load.
 */
export function loadDashboardAssets(dir: URL = new URL('../dashboard/', import.meta.url)): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>();
  let html = readFileSync(fileURLToPath(new URL('index.html', dir)), 'utf8');
  const files: [string, URL][] = [
    ...SOURCES.map((name): [string, URL] => [name, new URL(name, dir)]),
    ...Object.entries(VENDORED).map(([name, source]): [string, URL] => [name, vendoredUrl(source)]),
  ];
  for (const [name, url] of files) {
    const body = readFileSync(fileURLToPath(url));
    const hash = digest(body).slice(0, 10);
    const dot = name.lastIndexOf('.');
    const ext = name.slice(dot + 1);
    const hashed = `${name.slice(0, dot)}.${hash}.${ext}`;
    const type = TYPES[ext] as string;
    assets.set(`/assets/${hashed}`, {
      body,
      contentType: type,
      etag: `"${hash}"`,
      cacheControl: 'public, max-age=31536000, immutable',
    });
    assets.set(`/assets/${name}`, {
      body,
      contentType: type,
      etag: `"${hash}"`,
      cacheControl: 'public, max-age=60, must-revalidate',
    });
    html = html.replaceAll(`{{${name}}}`, `/assets/${hashed}`);
  }
  const body = Buffer.from(html);
  const index: StaticAsset = {
    body,
    contentType: TYPES.html as string,
    etag: `"${digest(body).slice(0, 16)}"`,
    cacheControl: 'no-cache',
  };
  assets.set('/', index);
  assets.set('/index.html', index);
  return assets;
}

/** True when an `If-None-Match` header matches `etag` (weak comparison, lists and `*` allowed). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function digest(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/** A servable in-memory asset: strong ETag, its `Cache-Control`, 304 on a matching `If-None-Match`, 404 when absent. */
export function sendAsset(req: FastifyRequest, reply: FastifyReply, asset: StaticAsset | undefined): unknown {
  if (asset === undefined) {
    reply.code(404);
    return { statusCode: 404, code: 'E_API_NOT_FOUND', message: 'no such asset', requestId: req.id };
  }
  reply.header('etag', asset.etag).header('cache-control', asset.cacheControl);
  if (etagMatches(req.headers['if-none-match'], asset.etag)) return reply.code(304).send();
  return reply.type(asset.contentType).send(asset.body);
}

/** An asset from a JSON document (strong ETag over its bytes). */
export function jsonAsset(doc: unknown, cacheControl: string): StaticAsset {
  const body = Buffer.from(JSON.stringify(doc));
  return {
    body,
    contentType: 'application/json; charset=utf-8',
    etag: `"${digest(body).slice(0, 16)}"`,
    cacheControl,
  };
}
