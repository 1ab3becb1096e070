import { TraderError } from '../../errors.js';
import { type BinanceParams, type BinanceSigner, restPayload } from './signing.js';

/** A non-2xx answer of Binance's REST API (or no answer): HTTP status, Binance's error `code` and `msg`. */
export class BinanceApiError extends TraderError {
  /** HTTP status; 0 when no answer came (timeout, connection refused). */
  readonly status: number;
  /** Binance's error code (e.g. -2010 new order rejected, -2011 cancel rejected, -1021 timestamp outside recvWindow). */
  readonly venueCode: number | undefined;
  /** How long the venue asked us to wait (429 / 418 `Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined;
  /**
   * Whether the request may have been executed: `true` for a timeout, a lost connection and 5xx (Binance: "the
   * execution status is UNKNOWN"); the order's state must then be queried. `false` for 4xx, which were refused.
   */
  readonly outcomeUnknown: boolean;

  constructor(
    message: string,
    details: { status: number; venueCode?: number; retryAfterMs?: number; outcomeUnknown: boolean; cause?: unknown },
  ) {
    super('E_TRADER_VENUE', message, details.cause === undefined ? {} : { cause: details.cause });
    this.status = details.status;
    this.venueCode = details.venueCode;
    this.retryAfterMs = details.retryAfterMs;
    this.outcomeUnknown = details.outcomeUnknown;
  }
}

/** Options of {@link BinanceRestClient}. */
export interface BinanceRestClientOptions {
  /** REST base URL: `https://api.binance.com`, or the testnet's `https://testnet.binance.vision`. */
  baseUrl: string;
  /** Signs `SIGNED` (TRADE, USER_DATA) requests and provides the API key. */
  signer: BinanceSigner;
  /** `recvWindow` of signed requests, ms (Binance: at most 60000). @default 5000 */
  recvWindowMs?: number;
  /** Timeout of one request, ms. @default 5000 */
  timeoutMs?: number;
  /**
   * Request weight per minute this client keeps under (`X-MBX-USED-WEIGHT-1M`): at or above it, requests wait for the
   * next minute instead of earning a 429. @default 6000 (Binance spot's REQUEST_WEIGHT limit)
   */
  weightLimit1m?: number;
  /** Retries after a 429 / 418 whose `Retry-After` is at most {@link maxRetryWaitMs}. @default 2 */
  maxRateLimitRetries?: number;
  /** A longer `Retry-After` is not waited for: the request fails at once, and so do others until it ends. @default 30000 */
  maxRetryWaitMs?: number;
  /** Clock of the `timestamp` parameter (ms since the epoch). @default Date.now */
  now?: () => number;
}

/** Counters of {@link BinanceRestClient.stats}. */
export interface BinanceRestStats {
  requests: number;
  failures: number;
  /** 429 answers. */
  rateLimited: number;
  /** 418 answers (IP ban). */
  banned: number;
  /** Retries after a 429 / 418. */
  retries: number;
  /** Waits for the weight budget (the next minute). */
  weightWaits: number;
  /** The venue's last `X-MBX-USED-WEIGHT-1M`. */
  usedWeight1m: number;
  /** Until when (epoch ms) requests are held back by a `Retry-After`; 0 when not. */
  backoffUntil: number;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) {
      resolve();
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Binance spot REST: signed requests (`timestamp`, `recvWindow`, `signature` last, API key in `X-MBX-APIKEY`), the
 * venue's rate limits respected (the `X-MBX-USED-WEIGHT-1M` header kept under `weightLimit1m`; on 429 and 418 the
 * `Retry-After` is waited for, once for every caller, then the request is retried), errors as {@link BinanceApiError}.
 */
export class BinanceRestClient {
  readonly baseUrl: string;
  private readonly signer: BinanceSigner;
  private readonly recvWindowMs: number;
  private readonly timeoutMs: number;
  private readonly weightLimit1m: number;
  private readonly maxRetries: number;
  private readonly maxRetryWaitMs: number;
  private readonly now: () => number;
  private readonly counters: BinanceRestStats = {
    requests: 0,
    failures: 0,
    rateLimited: 0,
    banned: 0,
    retries: 0,
    weightWaits: 0,
    usedWeight1m: 0,
    backoffUntil: 0,
  };
  /** The minute (epoch ms / 60000) `usedWeight1m` belongs to. */
  private weightMinute = 0;

  constructor(options: BinanceRestClientOptions) {
    const known = [
      'baseUrl',
      'signer',
      'recvWindowMs',
      'timeoutMs',
      'weightLimit1m',
      'maxRateLimitRetries',
      'maxRetryWaitMs',
      'now',
    ];
    for (const k of Object.keys(options))
      if (!known.includes(k))
        throw new TraderError('E_TRADER_INVALID_OPTION', `unknown option ${k}`, { field: `binance.${k}` });
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch (cause) {
      throw new TraderError('E_TRADER_INVALID_OPTION', 'baseUrl is not a URL', { field: 'baseUrl', cause });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new TraderError('E_TRADER_INVALID_OPTION', 'baseUrl must be http(s)', { field: 'baseUrl' });
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.signer = options.signer;
    this.recvWindowMs = positive('recvWindowMs', options.recvWindowMs, 5_000, 60_000);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs, 5_000);
    this.weightLimit1m = positive('weightLimit1m', options.weightLimit1m, 6_000);
    this.maxRetries = positive('maxRateLimitRetries', options.maxRateLimitRetries, 2, Number.MAX_SAFE_INTEGER, 0);
    this.maxRetryWaitMs = positive('maxRetryWaitMs', options.maxRetryWaitMs, 30_000, Number.MAX_SAFE_INTEGER, 0);
    this.now = options.now ?? Date.now;
  }

  /** Counters and the rate-limit state. */
  stats(): BinanceRestStats {
    return { ...this.counters };
  }

  /**
   * One request. `signed` adds `timestamp`, `recvWindow` and `signature` (computed over the query string as sent).
   * @throws BinanceApiError for a non-2xx answer or no answer.
   */
  async request<T>(
    method: Method,
    path: string,
    params: BinanceParams = {},
    options: { signed?: boolean; signal?: AbortSignal } = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.awaitBudget(options.signal);
      try {
        return await this.once<T>(method, path, params, options);
      } catch (error) {
        if (!(error instanceof BinanceApiError) || (error.status !== 429 && error.status !== 418)) throw error;
        if (attempt >= this.maxRetries || (error.retryAfterMs ?? 0) > this.maxRetryWaitMs) throw error;
        this.counters.retries++;
      }
    }
  }

  /** Holds a request while a `Retry-After` runs or the minute's weight is used up. */
  private async awaitBudget(signal?: AbortSignal): Promise<void> {
    const now = this.now();
    if (this.counters.backoffUntil > now) {
      const wait = this.counters.backoffUntil - now;
      if (wait > this.maxRetryWaitMs)
        throw new BinanceApiError(`rate limited by the venue for ${wait} ms more`, {
          status: 429,
          retryAfterMs: wait,
          outcomeUnknown: false,
        });
      await sleep(wait, signal);
    }
    const minute = Math.floor(this.now() / 60_000);
    if (minute === this.weightMinute && this.counters.usedWeight1m >= this.weightLimit1m) {
      this.counters.weightWaits++;
      await sleep((minute + 1) * 60_000 - this.now(), signal);
    }
  }

  private async once<T>(
    method: Method,
    path: string,
    params: BinanceParams,
    options: { signed?: boolean; signal?: AbortSignal },
  ): Promise<T> {
    let query = restPayload(params);
    if (options.signed === true) {
      const stamp = restPayload({ recvWindow: this.recvWindowMs, timestamp: this.now() });
      query = query === '' ? stamp : `${query}&${stamp}`;
      query = `${query}&signature=${encodeURIComponent(this.signer.sign(query))}`;
    }
    const url = `${this.baseUrl}${path}${query === '' ? '' : `?${query}`}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    this.counters.requests++;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { 'X-MBX-APIKEY': this.signer.apiKey },
        signal: options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]),
      });
    } catch (cause) {
      this.counters.failures++;
      throw new BinanceApiError(`${method} ${path}: no answer (${(cause as Error).message})`, {
        status: 0,
        outcomeUnknown: true,
        cause,
      });
    }
    this.readWeight(res.headers);
    const text = await res.text().catch(() => '');
    if (res.ok) {
      try {
        return JSON.parse(text) as T;
      } catch (cause) {
        this.counters.failures++;
        throw new BinanceApiError(`${method} ${path}: malformed answer`, {
          status: res.status,
          outcomeUnknown: true,
          cause,
        });
      }
    }
    this.counters.failures++;
    let venueCode: number | undefined;
    let msg = text.slice(0, 200);
    try {
      const body = JSON.parse(text) as { code?: unknown; msg?: unknown };
      if (typeof body.code === 'number') venueCode = body.code;
      if (typeof body.msg === 'string') msg = body.msg;
    } catch {
      // not JSON: keep the text
    }
    let retryAfterMs: number | undefined;
    if (res.status === 429 || res.status === 418) {
      if (res.status === 429) this.counters.rateLimited++;
      else this.counters.banned++;
      const header = Number(res.headers.get('retry-after'));
      retryAfterMs = Number.isFinite(header) && header >= 0 ? header * 1000 : 1000;
      this.counters.backoffUntil = Math.max(this.counters.backoffUntil, this.now() + retryAfterMs);
    }
    throw new BinanceApiError(
      `${method} ${path}: HTTP ${res.status}${venueCode === undefined ? '' : ` ${venueCode}`} ${msg}`,
      {
        status: res.status,
        ...(venueCode === undefined ? {} : { venueCode }),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        outcomeUnknown: res.status >= 500,
      },
    );
  }

  private readWeight(headers: Headers): void {
    const used = Number(headers.get('x-mbx-used-weight-1m'));
    if (headers.get('x-mbx-used-weight-1m') !== null && Number.isFinite(used)) {
      this.counters.usedWeight1m = used;
      this.weightMinute = Math.floor(this.now() / 60_000);
    }
  }
}

function positive(
  field: string,
  value: number | undefined,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
  min = 1,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    throw new TraderError('E_TRADER_INVALID_OPTION', `${field} must be a number in [${min}, ${max}]`, { field });
  return value;
}
