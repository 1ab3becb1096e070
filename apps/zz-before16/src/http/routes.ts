import type { AuditLog } from './audit-log.js';
import { ApiError } from './errors.js';
import type { JsonSchema } from './schemas.js';
import * as s from './schemas.js';
import type { ActorRef, StrategyParams, TraderPort } from './trader-port.js';
import type { Principal, Role } from './types.js';

/** What a route handler receives. */
export interface RouteContext {
  trader: TraderPort;
  principal: Principal;
  actor: ActorRef;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  audit: AuditLog;
  /** Extra figures the server adds to `GET /api/status`. */
  apiStatus(): Record<string, unknown>;
}

/** One API route: its contract (schemas, role) and its handler. The server and the OpenAPI document read the same object. */
export interface RouteDef {
  operationId: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Fastify path syntax (`/api/orders/:id`). */
  url: string;
  /** Least role allowed; `null` for a public route. */
  role: Role | null;
  summary: string;
  tag: string;
  querystring?: JsonSchema;
  params?: JsonSchema;
  /** Request body schema; `$comment: 'optional-body'` lets a request omit the body. */
  body?: JsonSchema;
  /** Schema of the 200 response. */
  response: JsonSchema;
  /** Audit action: when set, every attempt (success, failure, denied) writes an audit row. */
  audit?: string;
  /** Cache key: when set and a cache is configured, fresh cached responses are served. */
  cacheKey?: string;
  handler(ctx: RouteContext): unknown;
}

const OPTIONAL = { $comment: 'optional-body' } as const;

/** Every route of the API (besides the dashboard, health mount and the OpenAPI document itself). */
export const ROUTES: readonly RouteDef[] = [
  {
    operationId: 'getMe',
    method: 'GET',
    url: '/api/me',
    role: 'viewer',
    summary: 'The authenticated caller',
    tag: 'auth',
    querystring: s.emptyQuery,
    response: {
      type: 'object',
      properties: { sub: { type: 'string' }, role: { type: 'string' }, exp: { type: 'integer' } },
    },
    handler: ({ principal }) => ({ sub: principal.sub, role: principal.role, exp: principal.exp }),
  },
  {
    operationId: 'listPositions',
    method: 'GET',
    url: '/api/positions',
    role: 'viewer',
    summary: 'Open positions',
    tag: 'portfolio',
    querystring: s.emptyQuery,
    response: { type: 'array', items: s.positionSchema },
    cacheKey: 'positions',
    handler: ({ trader }) => trader.positions(),
  },
  {
    operationId: 'listOrders',
    method: 'GET',
    url: '/api/orders',
    role: 'viewer',
    summary: 'Orders, newest first',
    tag: 'orders',
    querystring: s.ordersQuery,
    response: { type: 'array', items: s.orderSchema },
    handler: ({ trader, query }) =>
      trader.orders({
        limit: query.limit as number,
        ...(query.symbol === undefined ? {} : { symbol: query.symbol as string }),
        ...(query.status === undefined ? {} : { status: query.status as never }),
      }),
  },
  {
    operationId: 'getOrder',
    method: 'GET',
    url: '/api/orders/:id',
    role: 'viewer',
    summary: 'One order with its fills',
    tag: 'orders',
    params: s.idParams,
    querystring: s.emptyQuery,
    response: {
      type: 'object',
      required: ['order', 'fills'],
      properties: { order: s.orderSchema, fills: { type: 'array', items: s.fillSchema } },
    },
    handler: async ({ trader, params }) => {
      const detail = await trader.order(params.id as string);
      if (detail === undefined) throw new ApiError('E_API_NOT_FOUND', `order ${params.id} not found`, { field: 'id' });
      return detail;
    },
  },
  {
    operationId: 'cancelOrder',
    method: 'POST',
    url: '/api/orders/:id/cancel',
    role: 'trader',
    summary: 'Cancel an open order',
    tag: 'orders',
    params: s.idParams,
    body: { ...s.cancelBody, ...OPTIONAL },
    audit: 'order.cancel',
    response: { type: 'object', properties: { cancelled: { type: 'boolean' } } },
    handler: async ({ trader, params, actor }) => {
      if (trader.cancelOrder === undefined)
        throw new ApiError('E_API_NOT_IMPLEMENTED', 'this trader does not support cancel');
      const cancelled = await trader.cancelOrder(params.id as string, actor);
      if (!cancelled)
        throw new ApiError('E_API_NOT_FOUND', `order ${params.id} not found or already final`, { field: 'id' });
      return { cancelled: true };
    },
  },
  {
    operationId: 'listFills',
    method: 'GET',
    url: '/api/fills',
    role: 'viewer',
    summary: 'Fills, newest first',
    tag: 'portfolio',
    querystring: s.fillsQuery,
    response: { type: 'array', items: s.fillSchema },
    handler: ({ trader, query }) =>
      trader.fills({
        limit: query.limit as number,
        ...(query.symbol === undefined ? {} : { symbol: query.symbol as string }),
        ...(query.since === undefined ? {} : { since: query.since as number }),
      }),
  },
  {
    operationId: 'getPnl',
    method: 'GET',
    url: '/api/pnl',
    role: 'viewer',
    summary: 'Realized and unrealized PnL',
    tag: 'portfolio',
    querystring: s.emptyQuery,
    response: s.pnlSchema,
    cacheKey: 'pnl',
    handler: ({ trader }) => trader.pnl(),
  },
  {
    operationId: 'getRisk',
    method: 'GET',
    url: '/api/risk',
    role: 'viewer',
    summary: 'Risk state and kill switch mode',
    tag: 'risk',
    querystring: s.emptyQuery,
    response: s.riskSchema,
    handler: ({ trader }) => trader.risk(),
  },
  {
    operationId: 'getStrategyParams',
    method: 'GET',
    url: '/api/strategy/params',
    role: 'viewer',
    summary: 'Strategy parameters',
    tag: 'strategy',
    querystring: s.emptyQuery,
    response: s.paramsSchema,
    handler: ({ trader }) => trader.strategyParams(),
  },
  {
    operationId: 'updateStrategyParams',
    method: 'PUT',
    url: '/api/strategy/params',
    role: 'trader',
    summary: 'Change strategy parameters (partial update, validated by the trader)',
    tag: 'strategy',
    body: s.paramsPatchBody,
    audit: 'strategy.params.update',
    response: s.paramsSchema,
    handler: async ({ trader, body, actor }) => {
      try {
        return await trader.setStrategyParams(body as StrategyParams, actor);
      } catch (e) {
        const field = (e as { field?: unknown }).field;
        if (typeof field === 'string' && field !== '')
          throw new ApiError('E_API_BAD_REQUEST', (e as Error).message, { field: `body.${field}`, cause: e });
        throw e;
      }
    },
  },
  {
    operationId: 'engageKillSwitch',
    method: 'POST',
    url: '/api/kill-switch',
    role: 'admin',
    summary: 'Engage the kill switch: REDUCING (only risk-reducing orders) or HALTED (only cancels)',
    tag: 'risk',
    body: s.killSwitchBody,
    audit: 'kill-switch.engage',
    response: s.riskSchema,
    handler: ({ trader, body, actor }) => {
      const b = body as { mode: 'REDUCING' | 'HALTED'; reason: string };
      return trader.engageKillSwitch({ mode: b.mode, reason: b.reason, actor });
    },
  },
  {
    operationId: 'releaseKillSwitch',
    method: 'POST',
    url: '/api/kill-switch/release',
    role: 'admin',
    summary: 'Release the kill switch (back to RUNNING)',
    tag: 'risk',
    body: s.releaseBody,
    audit: 'kill-switch.release',
    response: s.riskSchema,
    handler: ({ trader, body, actor }) =>
      trader.releaseKillSwitch({ reason: (body as { reason: string }).reason, actor }),
  },
  {
    operationId: 'listAlerts',
    method: 'GET',
    url: '/api/alerts',
    role: 'viewer',
    summary: 'Active alerts',
    tag: 'alerts',
    querystring: s.emptyQuery,
    response: { type: 'array', items: s.alertSchema },
    handler: ({ trader }) => trader.alerts.list(),
  },
  {
    operationId: 'createSilence',
    method: 'POST',
    url: '/api/alerts/silences',
    role: 'admin',
    summary: 'Silence alerts matching labels for a while',
    tag: 'alerts',
    body: s.silenceBody,
    audit: 'alert.silence',
    response: { type: 'object', required: ['id'], properties: { id: { type: 'string' }, endsAt: { type: 'integer' } } },
    handler: ({ trader, body, principal }) => {
      const b = body as { matchers: Record<string, string>; durationMs: number; comment: string };
      return trader.alerts.silence({
        matchers: b.matchers,
        durationMs: b.durationMs,
        comment: b.comment,
        createdBy: principal.sub,
      });
    },
  },
  {
    operationId: 'acknowledgeAlert',
    method: 'POST',
    url: '/api/alerts/:id/ack',
    role: 'trader',
    summary: 'Acknowledge an alert (stops its escalation)',
    tag: 'alerts',
    params: s.idParams,
    body: { ...s.ackBody, ...OPTIONAL },
    audit: 'alert.ack',
    response: { type: 'object', properties: { acknowledged: { type: 'boolean' } } },
    handler: async ({ trader, params, principal }) => {
      const ok = await trader.alerts.acknowledge(params.id as string, principal.sub);
      if (!ok) throw new ApiError('E_API_NOT_FOUND', `alert ${params.id} not found`, { field: 'id' });
      return { acknowledged: true };
    },
  },
  {
    operationId: 'getStatus',
    method: 'GET',
    url: '/api/status',
    role: 'viewer',
    summary: 'Component health, stage latency percentiles and API counters',
    tag: 'status',
    querystring: s.emptyQuery,
    response: s.statusSchema,
    handler: async ({ trader, apiStatus }) => ({ ...(await trader.status()), api: apiStatus() }),
  },
  {
    operationId: 'listAudit',
    method: 'GET',
    url: '/api/audit',
    role: 'admin',
    summary: 'The newest audit log rows',
    tag: 'auth',
    querystring: s.auditQuery,
    response: { type: 'array', items: s.auditRowSchema },
    handler: ({ audit, query }) => audit.recent(query.limit as number, query.action as string | undefined),
  },
];
