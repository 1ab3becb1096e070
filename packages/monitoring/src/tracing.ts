import diagnostics_channel, { type TracingChannelSubscribers } from 'node:diagnostics_channel';
import { CACHE_OPERATION_CHANNEL, DB_QUERY_CHANNEL } from './channels.js';
import { completedAtEnd, errorType, guard, type OperationContext, str } from './internal/trace-context.js';
import type { SpanLike, TracerLike } from './types.js';

/** Node 20 accepts a partial set of handlers; its types want all five. */
type Subscribers = TracingChannelSubscribers<object>;

const kSpan = Symbol('cryptoscalp.monitoring.span');
/** `SpanKind.CLIENT` of @opentelemetry/api. */
const SPAN_KIND_CLIENT = 2;
/** `SpanStatusCode.ERROR` of @opentelemetry/api. */
const STATUS_ERROR = 2;

/**
 * Starts an OpenTelemetry span for every operation reported on `cryptoscalp:db:query` and
 * `cryptoscalp:cache:operation` by a watched component, and ends it when the operation ends
 * (attributes after the OpenTelemetry database and cache conventions). Without a registered SDK
 * the global tracer is a no-op, so this costs little.
 */
export class SpanBridge {
  private tracer: TracerLike | undefined;
  private subscribed = false;
  private readonly db = diagnostics_channel.tracingChannel(DB_QUERY_CHANNEL);
  private readonly cache = diagnostics_channel.tracingChannel(CACHE_OPERATION_CHANNEL);
  private readonly dbHandlers;
  private readonly cacheHandlers;

  constructor(private readonly isWatched: (component: unknown) => boolean) {
    const end = guard((ctx) => {
      if (completedAtEnd(ctx)) finish(ctx);
    });
    const asyncEnd = guard(finish);
    this.dbHandlers = {
      start: guard((ctx) => {
        if (this.tracer === undefined || !this.isWatched(ctx.component)) return;
        const op = str(ctx.operation);
        const attributes: Record<string, string | number | boolean> = {
          'db.system': 'postgresql',
          'db.operation.name': op,
          'db.query.text': str(ctx.statement),
          'cryptoscalp.component': ctx.component as string,
          'cryptoscalp.db.role': str(ctx.role),
        };
        const host = str(ctx.host);
        const colon = host.lastIndexOf(':');
        if (colon > 0) {
          attributes['server.address'] = host.slice(0, colon);
          attributes['server.port'] = Number(host.slice(colon + 1));
        }
        const name = str(ctx.name);
        ctx[kSpan] = this.tracer.startSpan(name === '' ? `db.${op}` : `db.${op} ${name}`, {
          kind: SPAN_KIND_CLIENT,
          attributes,
        });
      }),
      end,
      asyncEnd,
    };
    this.cacheHandlers = {
      start: guard((ctx) => {
        if (this.tracer === undefined || !this.isWatched(ctx.component)) return;
        const op = str(ctx.operation);
        ctx[kSpan] = this.tracer.startSpan(`cache.${op}`, {
          kind: SPAN_KIND_CLIENT,
          attributes: {
            'cache.operation': op,
            'cache.namespace': str(ctx.namespace),
            'cryptoscalp.component': ctx.component as string,
          },
        });
      }),
      end,
      asyncEnd,
    };
  }

  /** Sets (or clears) the tracer; spans start only while one is set. */
  setTracer(tracer: TracerLike | undefined): void {
    this.tracer = tracer;
  }

  subscribe(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    this.db.subscribe(this.dbHandlers as unknown as Subscribers);
    this.cache.subscribe(this.cacheHandlers as unknown as Subscribers);
  }

  unsubscribe(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.db.unsubscribe(this.dbHandlers as unknown as Subscribers);
    this.cache.unsubscribe(this.cacheHandlers as unknown as Subscribers);
  }
}

function finish(ctx: OperationContext): void {
  const span = ctx[kSpan] as SpanLike | undefined;
  if (span === undefined) return;
  ctx[kSpan] = undefined;
  if (typeof ctx.rowCount === 'number') span.setAttribute('db.response.returned_rows', ctx.rowCount);
  if (typeof ctx.tier === 'string') span.setAttribute('cache.tier', ctx.tier);
  if (typeof ctx.hit === 'boolean') span.setAttribute('cache.hit', ctx.hit);
  if (ctx.error !== undefined) {
    span.setAttribute('error.type', errorType(ctx.error));
    span.recordException(ctx.error instanceof Error ? ctx.error : String(ctx.error));
    span.setStatus({ code: STATUS_ERROR, message: ctx.error instanceof Error ? ctx.error.message : String(ctx.error) });
  }
  span.end();
}
