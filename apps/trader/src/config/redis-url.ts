import { Redis, type RedisOptions } from 'ioredis';
import { TraderError } from '../errors.js';

/** A Redis primary found through Sentinel: what a `redis+sentinel://` URL names. */
export interface SentinelTarget {
  /** The Sentinel processes (at least one; list all of them so discovery survives the loss of any). */
  readonly sentinels: ReadonlyArray<{ host: string; port: number }>;
  /** The monitored primary's name (`sentinel monitor <name> ...`). */
  readonly name: string;
  /** Database number. @default 0 */
  readonly db: number;
  /** ACL user and password of the data nodes (not of the Sentinels). */
  readonly username?: string;
  readonly password?: string;
  /** `rediss+sentinel:` connects to the data nodes with TLS. */
  readonly tls: boolean;
}

const SCHEMES = ['redis+sentinel:', 'rediss+sentinel:'] as const;

/** True when `url` names Redis through Sentinel (`redis+sentinel://` or `rediss+sentinel://`). */
export function isSentinelUrl(url: string): boolean {
  return SCHEMES.some((s) => url.startsWith(`${s}//`));
}

/**
 * Parses `redis+sentinel://[user:password@]host:port[,host:port...]/<primary name>[/<db>]` (the form Celery,
 * Kombu and redis-py's sentinel helpers use). `WHATWG URL` cannot hold several hosts, so this parses by hand.
 * Throws {@link TraderError} `E_TRADER_INVALID_OPTION` naming `field` when the URL is not of that form.
 */
export function parseSentinelUrl(url: string, field = 'redisUrl'): SentinelTarget {
  const bad = (why: string) =>
    new TraderError(
      'E_TRADER_INVALID_OPTION',
      `invalid configuration: ${field} ${why} (expected redis+sentinel://[user:password@]host:port[,host:port...]/<primary name>[/<db>])`,
      { field },
    );
  const scheme = SCHEMES.find((s) => url.startsWith(`${s}//`));
  if (scheme === undefined) throw bad('is not a redis+sentinel:// URL');
  const rest = url.slice(scheme.length + 2);
  const slash = rest.indexOf('/');
  if (slash < 0) throw bad('names no primary');
  let authority = rest.slice(0, slash);
  const path = rest
    .slice(slash + 1)
    .split('/')
    .filter((p) => p !== '');
  let username: string | undefined;
  let password: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    if (user !== '') username = user;
    if (colon >= 0) password = decodeURIComponent(userinfo.slice(colon + 1));
  }
  const sentinels = authority.split(',').map((hp) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$/.exec(hp);
    const port = Number(m?.[2]);
    if (m === null || port < 1 || port > 65535) throw bad(`has a bad sentinel address "${hp}"`);
    return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
  });
  const name = path[0];
  if (name === undefined || !/^[A-Za-z0-9_.-]{1,128}$/.test(name)) throw bad('names no primary');
  const dbText = path[1] ?? '0';
  if (path.length > 2 || !/^[0-9]{1,2}$/.test(dbText)) throw bad(`has a bad database number "${path.slice(1)}"`);
  return {
    sentinels,
    name,
    db: Number(dbText),
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    tls: scheme === 'rediss+sentinel:',
  };
}

/** The ioredis options of a Sentinel target: the primary, found again after a failover. */
export function sentinelOptions(target: SentinelTarget): RedisOptions {
  return {
    sentinels: target.sentinels.map((s) => ({ ...s })),
    name: target.name,
    role: 'master',
    db: target.db,
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    // A paused primary that the Sentinels demoted when it resumed answers writes with READONLY: reconnect, and
    // ask the Sentinels again. (ioredis's `failoverDetector` is not used: in the chaos suite, a client whose
    // reconnection was in flight when +switch-master came stayed on "Connection is closed" for good.)
    reconnectOnError: (error: Error) => error.message.startsWith('READONLY'),
    sentinelRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1_000),
  };
}

/**
 * A client for a trader Redis URL: `redis://` and `rediss://` as ioredis reads them, `redis+sentinel://` through
 * Sentinel ({@link parseSentinelUrl}). `options` apply in both cases.
 */
export function createRedisClient(url: string, options: RedisOptions = {}): Redis {
  if (!isSentinelUrl(url)) return new Redis(url, options);
  return new Redis({ ...options, ...sentinelOptions(parseSentinelUrl(url)) });
}
