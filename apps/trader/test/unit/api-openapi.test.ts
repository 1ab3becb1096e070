import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../src/http/openapi.js';
import { ROUTES } from '../../src/http/routes.js';

// biome-ignore lint/suspicious/noExplicitAny: reading an arbitrary JSON document
type Json = any;

describe('buildOpenApi', () => {
  const doc = buildOpenApi(ROUTES, [
    { method: 'GET', url: '/api/stream', summary: 'stream', tag: 'streams', public: false },
  ]) as { paths: Record<string, Record<string, Record<string, unknown>>>; components: Record<string, unknown> };

  it('has one operation per route with unique operation ids', () => {
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p));
    expect(ops).toHaveLength(ROUTES.length + 1);
    const ids = ops.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('describes path and query parameters, bodies, security and error responses', () => {
    const getOrder = doc.paths['/api/orders/{id}']?.get as Json;
    expect(getOrder.parameters).toContainEqual(expect.objectContaining({ name: 'id', in: 'path', required: true }));
    expect(Object.keys(getOrder.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '429']));
    const listOrders = doc.paths['/api/orders']?.get as Json;
    expect(listOrders.parameters.map((p: { name: string }) => p.name)).toEqual(['symbol', 'status', 'limit']);
    const engage = doc.paths['/api/kill-switch']?.post as Json;
    expect(engage.requestBody.required).toBe(true);
    expect(engage['x-audit-action']).toBe('kill-switch.engage');
    expect(engage.responses['413']).toBeDefined();
    const ack = doc.paths['/api/alerts/{id}/ack']?.post as Json;
    expect(ack.requestBody.required).toBe(false);
    expect(ack.requestBody.content['application/json'].schema.$comment).toBeUndefined();
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    });
  });
});
