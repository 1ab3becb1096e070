import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { scrubMessage } from './delivery-queue.js';
import { invalidOption } from './errors.js';

/** Field paths redacted by {@link createLogger} (pino redact syntax; one level of nesting with `*.`). */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  'password',
  'passphrase',
  'secret',
  'token',
  'apiKey',
  'apiSecret',
  'accessToken',
  'refreshToken',
  'privateKey',
  'authorization',
  'cookie',
  '*.password',
  '*.passphrase',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.apiSecret',
  '*.accessToken',
  '*.refreshToken',
  '*.privateKey',
  '*.authorization',
  '*.cookie',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'auth.pass',
  '*.auth.pass',
];

/** Options of {@link createLogger}. */
export interface LoggerFactoryOptions {
  /** Logger name (the `name` field). @default 'cryptoscalp' */
  name?: string;
  /** pino level. @default 'info' */
  level?: string;
  /** Extra field paths to redact, added to {@link DEFAULT_REDACT_PATHS}. @default [] */
  redact?: string[];
  /** Replacement text. @default '[REDACTED]' */
  censor?: string;
  /** Where to write (a pino destination or any writable stream). @default stdout */
  destination?: DestinationStream;
  /** Other pino options, applied last (except `redact` and `mixin`, which this factory owns). */
  pino?: Omit<LoggerOptions, 'redact' | 'mixin'>;
}

interface CorrelationStore {
  correlationId: string;
}

const storage = new AsyncLocalStorage<CorrelationStore>();

/**
 * Runs `fn` with a correlation id (a new UUID if `id` is undefined) that every logger from
 * {@link createLogger} adds as `correlationId` to each line logged within `fn`'s async work.
 */
export function withCorrelationId<T>(id: string | undefined, fn: () => T): T {
  if (id !== undefined && (typeof id !== 'string' || id === ''))
    throw invalidOption('correlationId', 'must be a non-empty string');
  return storage.run({ correlationId: id ?? randomUUID() }, fn);
}

/** The correlation id of the current async context, if any. */
export function getCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

/**
 * A pino logger that adds the current correlation id to every line, redacts secret-looking fields
 * ({@link DEFAULT_REDACT_PATHS} plus yours) and scrubs credentials out of message strings
 * (URL passwords, bearer tokens, Slack tokens).
 */
export function createLogger(options: LoggerFactoryOptions = {}): Logger {
  if (
    options.redact !== undefined &&
    (!Array.isArray(options.redact) || options.redact.some((p) => typeof p !== 'string'))
  ) {
    throw invalidOption('redact', 'must be an array of field paths');
  }
  const config: LoggerOptions = {
    name: options.name ?? 'cryptoscalp',
    level: options.level ?? 'info',
    ...options.pino,
    redact: { paths: [...DEFAULT_REDACT_PATHS, ...(options.redact ?? [])], censor: options.censor ?? '[REDACTED]' },
    mixin() {
      const store = storage.getStore();
      // pino merges the log object into what mixin returns: always a fresh object.
      return store === undefined ? {} : { correlationId: store.correlationId };
    },
    hooks: {
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++)
          if (typeof args[i] === 'string') args[i] = scrubMessage(args[i] as string, [], Number.POSITIVE_INFINITY);
        return method.apply(this, args as Parameters<typeof method>);
      },
    },
  };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}
