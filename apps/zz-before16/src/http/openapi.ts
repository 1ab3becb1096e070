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
 * Builds the OpenAPI 3.1 document from the same route objects the server registers, so the document
 * cannot drift from what is enforced.
 */
export function buildOpenApi(routes: readonly RouteDef[], extra: readonly ExtraPath[] = []): Record<string, unknown> {
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
