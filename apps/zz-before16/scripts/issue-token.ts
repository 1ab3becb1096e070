#!/usr/bin/env node
/**
 * Issues a JWT the trader API accepts.
 *
 *   TRADER_JWT_SECRET=... node apps/trader/dist/issue-token.js --sub alice --role admin --ttl 1h
 *   node apps/trader/dist/issue-token.js --sub bot --role viewer --key-file ./jwt-private.pem
 *   npx tsx apps/trader/scripts/issue-token.ts ...   (from the sources, without a build)
 *
 * The build (`npm run build -w @cryptoscalp/trader`) bundles it into `dist/issue-token.js`, keeping this first line
 * (hence `node`, not tsx), so tokens can be issued wherever the built trader is installed.
 *
 * Options: --sub (required), --role viewer|trader|admin (required), --ttl (seconds or 15m/1h/7d, default 1h),
 * --issuer, --audience (defaults match the API's), --key-file (PEM PKCS#8 private key: RS256, ES256 or EdDSA;
 * otherwise the HMAC secret comes from TRADER_JWT_SECRET, at least 32 bytes). Prints the token on stdout.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isApiError } from '../src/http/errors.js';
import { issueToken } from '../src/http/tokens.js';

const usage =
  'usage: issue-token --sub <name> --role viewer|trader|admin [--ttl 1h] [--issuer ..] [--audience ..] [--key-file private.pem]\n' +
  '       (HS256 secret from TRADER_JWT_SECRET unless --key-file is given)';

try {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      role: { type: 'string' },
      ttl: { type: 'string', default: '1h' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
      'key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const keyFile = values['key-file'];
  const secret = process.env.TRADER_JWT_SECRET;
  if (keyFile === undefined && (secret === undefined || secret === '')) {
    console.error(`TRADER_JWT_SECRET is not set and no --key-file was given\n${usage}`);
    process.exit(2);
  }
  const ttl = /^\d+$/.test(values.ttl) ? Number(values.ttl) : values.ttl;
  const token = await issueToken({
    sub: values.sub ?? '',
    role: values.role as 'viewer',
    ttl,
    ...(keyFile === undefined ? { secret } : { privateKey: readFileSync(keyFile, 'utf8') }),
    ...(values.issuer === undefined ? {} : { issuer: values.issuer }),
    ...(values.audience === undefined ? {} : { audience: values.audience }),
  });
  process.stdout.write(`${token}\n`);
} catch (e) {
  console.error(isApiError(e) ? `invalid ${e.field}: ${e.message}` : (e as Error).message);
  console.error(usage);
  process.exit(2);
}
