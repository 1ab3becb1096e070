import type { RouteDef } from './routes.js';
import { errorSchema, type JsonSchema } from './schemas.js';

/** Extra, non-`RouteDef` paths to describe (the stream upgrade, the dashboard). */
export interface ExtraPath {
  method: 'GET';
  url: string;
  summary: string;
  description?: string;
  tag: string;
  public: boolean;
}

/**
 * A route registered with a full Fastify schema outside the `ROUTES` table (the login, session and user routes):
 * documented from the very schema that validates it, captured by an `onRoute` hook.
 */
export interface SchemaRoute {
  method: string;
  url: string;
  /** `config.access` of the route; `undefined` for a public route. */
  access?: string;
  schema: {
    summary?: string;
    tags?: readonly string[];
    body?: JsonSchema;
    params?: JsonSchema;
    querystring?: JsonSchema;
    response?: Record<string, JsonSchema>;
  };
}

/** `/api/users/:username/mfa/reset` -> `postApiUsersUsernameMfaReset`: a stable operationId from method and path. */
function schemaOperationId(method: string, url: string): string {
  const words = url.split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  return method.toLowerCase() + words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join('');
}

function schemaRouteOperation(r: SchemaRoute): Record<string, unknown> {
  const parameters: unknown[] = [];
  for (const [where, schema] of [
    ['path', r.schema.params],
    ['query', r.schema.querystring],
  ] as const) {
    const props = (schema?.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((schema?.required ?? []) as string[]);
    for (const [name, p] of Object.entries(props))
      parameters.push({ name, in: where, required: where === 'path' || required.has(name), schema: p });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(r.schema.response ?? {})) {
    const description =
      typeof schema.description === 'string' ? schema.description : status.startsWith('2') ? 'OK' : 'Error';
    responses[status] =
      schema.type === 'null' ? { description } : { description, content: { 'application/json': { schema } } };
  }
  responses['429'] ??= errorResponse('Rate limited; see the `Retry-After` header');
  const op: Record<string, unknown> = {
    operationId: schemaOperationId(r.method, r.url),
    summary: r.schema.summary ?? r.url,
    tags: [...(r.schema.tags ?? ['auth'])],
    'x-required-role': r.access ?? 'public',
    parameters,
    responses,
  };
  if (r.access !== undefined) op.security = [{ bearerAuth: [] }];
  if (r.schema.body !== undefined)
    op.requestBody = { required: true, content: { 'application/json': { schema: r.schema.body } } };
  return op;
}

/**
 * Builds the OpenAPI 3.1 document from the same route objects the server registers, so the document
 * cannot drift from what is enforced.
 */
export function buildOpenApi(
  routes: readonly RouteDef[],
  extra: readonly ExtraPath[] = [],
  schemaRoutes: readonly SchemaRoute[] = [],
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.querystring],
    ] as const) {
      const props = (schema?.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((schema?.required ?? []) as string[]);
      for (const [name, p] of Object.entries(props))
        parameters.push({ name, in: where, required: where === 'path' || required.has(name), schema: p });
    }
    const responses: Record<string, unknown> = {
      '200': { description: 'OK', content: { 'application/json': { schema: r.response } } },
      '400': errorResponse('Invalid input; `field` names the offending field'),
      '429': errorResponse('Rate limited; see the `Retry-After` header'),
    };
    if (r.role !== null) {
      responses['401'] = errorResponse('Missing, invalid or expired token');
      responses['403'] = errorResponse(`Role below ${r.role}`);
    }
    if (r.params !== undefined) responses['404'] = errorResponse('Not found');
    if (r.body !== undefined) responses['413'] = errorResponse('Request body too large');
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      'x-required-role': r.role ?? 'public',
      ...(r.audit === undefined ? {} : { 'x-audit-action': r.audit }),
      parameters,
      responses,
    };
    if (r.role !== null) op.security = [{ bearerAuth: [] }];
    if (r.body !== undefined) {
      const { $comment, ...schema } = r.body;
      op.requestBody = {
        required: $comment !== 'optional-body',
        content: { 'application/json': { schema } },
      };
    }
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: op };
  }
  for (const r of schemaRoutes) {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: schemaRouteOperation(r) };
  }
  for (const e of extra) {
    paths[e.url] = {
      ...paths[e.url],
      [e.method.toLowerCase()]: {
        operationId: e.url,
        summary: e.summary,
        ...(e.description === undefined ? {} : { description: e.description }),
        tags: [e.tag],
        'x-required-role': e.public ? 'public' : 'viewer',
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'CryptoScalp trader API',
      version: '1.0.0',
      description:
        'Positions, orders, fills, PnL, risk, strategy parameters, kill switch and alerts of the reference trader. ' +
        'Bearer JWT with a `role` claim: viewer < trader < admin.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}

function errorResponse(description: string): unknown {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}
