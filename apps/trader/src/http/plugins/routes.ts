import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isApiError } from '../errors.js';
import { ROUTES, type RouteContext } from '../routes.js';
import type { ApiCache, Principal } from '../types.js';
import type { PluginOptions } from './context.js';

/**
 * The API routes, registered from the `ROUTES` table (the same objects the OpenAPI document is built from): each
 * route's query, params and body schemas are compiled once, its role becomes `config.access` (enforced by `auth`),
 * and its handler gets the {@link RouteContext}. Routes with `audit` write a row for every attempt that reaches the
 * handler (`success` with the request and result, `failure` with the error), and the response waits for it (at most
 * 2 s). Routes with `cacheKey` are answered from `cache` while fresh (`X-Cache: hit`).
 */
async function routes(
  app: FastifyInstance,
  { options, trader, counters, cache, stats }: PluginOptions & { cache: ApiCache | undefined; stats: () => object },
): Promise<void> {
  // Query strings and path params are strings on the wire: coerce them. Bodies are JSON: no coercion,
  // so `"60000"` for an integer field is a 400, not a silent conversion.
  const ajvBody = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: false, allErrors: false });
  const ajvQuery = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: 'array', allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const s = schema as Record<string, unknown>;
    const fn = (httpPart === 'body' ? ajvBody : ajvQuery).compile(s);
    if (httpPart === 'querystring') return canonicalIntegers(s, fn);
    if (httpPart !== 'body' || s.$comment !== 'optional-body') return fn;
    const optional = ((data: unknown) => {
      if (data === undefined || data === null) return true;
      const ok = fn(data);
      optional.errors = fn.errors;
      return ok;
    }) as ValidateFunction;
    return optional;
  });

  const apiStatus = () => ({ ...stats(), authCachedTokens: app.authCachedTokens() });

  for (const def of ROUTES) {
    /** A read answered from `cache` while fresh; a miss is stored after the response. */
    const cached = async (key: string, ctx: RouteContext, reply: FastifyReply): Promise<unknown> => {
      try {
        const hit = await cache?.get(key);
        if (hit !== undefined && hit !== null) {
          counters.cacheHits++;
          reply.header('x-cache', 'hit');
          return hit;
        }
      } catch {
        counters.cacheErrors++;
      }
      const result = await def.handler(ctx);
      counters.cacheMisses++;
      reply.header('x-cache', 'miss');
      Promise.resolve()
        .then(() => cache?.set(key, result, { ttlMs: options.cacheTtlMs }))
        .catch(() => {
          counters.cacheErrors++;
        });
      return result;
    };
    /** A sensitive operation: every attempt that reaches the handler writes a row, and the response waits for it. */
    const audited = async (action: string, ctx: RouteContext, req: FastifyRequest): Promise<unknown> => {
      const { principal } = ctx;
      const base = { actor: principal.sub, role: principal.role, action, requestId: req.id, ip: req.ip };
      const request = { params: req.params, body: req.body };
      try {
        const result = await def.handler(ctx);
        await app.audit.append({ ...base, outcome: 'success', detail: { request, result } });
        return result;
      } catch (err) {
        const status = isApiError(err) ? err.status : 500;
        await app.audit.append({
          ...base,
          outcome: 'failure',
          detail: { request, status, error: (err as Error).message },
        });
        throw err;
      }
    };
    const cacheKey = cache !== undefined && def.cacheKey !== undefined ? `api:${def.cacheKey}` : undefined;
    app.route({
      method: def.method,
      url: def.url,
      config: { def, ...(def.role === null ? {} : { access: def.role }) },
      schema: {
        ...(def.querystring === undefined ? {} : { querystring: def.querystring }),
        ...(def.params === undefined ? {} : { params: def.params }),
        ...(def.body === undefined ? {} : { body: def.body }),
      },
      // Not `async`: a plain read (no cache, no audit) returns the trader's value or promise as it is, and Fastify
      // sends either; the cached and audited paths are async functions of their own.
      handler: (req, reply) => {
        const principal = req.principal as Principal;
        const ctx: RouteContext = {
          trader,
          principal,
          actor: { sub: principal.sub, role: principal.role },
          params: req.params as Record<string, string>,
          query: req.query as Record<string, unknown>,
          body: req.body,
          audit: app.audit,
          apiStatus,
        };
        if (cacheKey !== undefined) return cached(cacheKey, ctx, reply);
        if (def.audit !== undefined) return audited(def.audit, ctx, req);
        const result = def.handler(ctx);
        // A synchronous `undefined` would leave the request unanswered.
        return result === undefined ? null : result;
      },
    });
  }
}

const DECIMAL_INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

/**
 * Query integers must be written one way: plain decimal digits, a safe integer. Ajv's coercion (`Number(x)`) would
 * also take `Infinity`, `0x10`, ` 5`, `1e3` or `''`, and `Infinity` passes `maximum` checks only by accident of
 * comparison; those are refused here before Ajv sees them, naming the parameter. Bounds stay the schema's.
 */
function canonicalIntegers(schema: Record<string, unknown>, fn: ValidateFunction): ValidateFunction {
  const properties = (schema.properties ?? {}) as Record<string, { type?: unknown }>;
  const keys = Object.keys(properties).filter((k) => properties[k]?.type === 'integer');
  if (keys.length === 0) return fn;
  const validate = ((data: unknown) => {
    const query = data as Record<string, unknown> | null | undefined;
    for (const key of keys) {
      const raw = query?.[key];
      const values = Array.isArray(raw) ? raw : [raw];
      for (const v of values) {
        if (typeof v !== 'string' || (DECIMAL_INTEGER.test(v) && Number.isSafeInteger(Number(v)))) continue;
        validate.errors = [
          {
            instancePath: `/${key}`,
            schemaPath: `#/properties/${key}/type`,
            keyword: 'type',
            params: { type: 'integer' },
            message: 'must be a decimal integer: digits only, no spaces, hex, exponent or Infinity',
          },
        ];
        return false;
      }
    }
    const ok = fn(data);
    validate.errors = fn.errors;
    return ok;
  }) as ValidateFunction;
  return validate;
}

export default fp(routes, { name: 'trader-routes', fastify: '5.x', dependencies: ['trader-audit', 'trader-auth'] });
