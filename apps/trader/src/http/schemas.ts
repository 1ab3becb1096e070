/** JSON Schemas of the API: request schemas are enforced by the server; all of them feed the OpenAPI document. */

/** A JSON Schema object (draft 7 / OpenAPI 3.1 subset). */
export type JsonSchema = Record<string, unknown>;

const num = { type: 'number' } as const;
const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const symbol = { type: 'string', pattern: '^[A-Z0-9][A-Z0-9_-]{0,31}$', description: 'Symbol, e.g. BTCUSDT' } as const;

/** A position (`GET /api/positions`). */
export const positionSchema: JsonSchema = {
  type: 'object',
  required: ['symbol', 'qty', 'avgPrice', 'markPrice', 'notional', 'realizedPnl', 'unrealizedPnl', 'fees'],
  properties: {
    symbol: str,
    qty: num,
    avgPrice: num,
    markPrice: num,
    notional: num,
    realizedPnl: num,
    unrealizedPnl: num,
    fees: num,
  },
};

const orderStatus = {
  type: 'string',
  enum: ['submitted', 'accepted', 'partially_filled', 'filled', 'cancelled', 'rejected'],
} as const;

/** An order, the core's `Order`. */
export const orderSchema: JsonSchema = {
  type: 'object',
  required: ['clientOrderId', 'symbol', 'side', 'type', 'qty', 'status', 'filledQty', 'avgPrice', 'createdAt'],
  properties: {
    clientOrderId: str,
    symbol: str,
    side: { type: 'string', enum: ['buy', 'sell'] },
    type: { type: 'string', enum: ['market', 'limit'] },
    qty: num,
    price: num,
    status: orderStatus,
    filledQty: num,
    avgPrice: num,
    fees: num,
    createdAt: int,
    updatedAt: int,
    rejectReason: str,
  },
};

/** A fill, the core's `Fill`. */
export const fillSchema: JsonSchema = {
  type: 'object',
  required: ['fillId', 'clientOrderId', 'symbol', 'side', 'price', 'qty', 'fee', 'liquidity', 'ts'],
  properties: {
    fillId: str,
    clientOrderId: str,
    symbol: str,
    side: { type: 'string', enum: ['buy', 'sell'] },
    price: num,
    qty: num,
    fee: num,
    liquidity: { type: 'string', enum: ['maker', 'taker'] },
    ts: int,
  },
};

/** PnL figures (`GET /api/pnl`). */
export const pnlSchema: JsonSchema = {
  type: 'object',
  required: ['realized', 'unrealized', 'fees', 'total', 'drawdown', 'wins', 'losses', 'ts'],
  properties: {
    realized: num,
    unrealized: num,
    fees: num,
    total: num,
    drawdown: num,
    wins: int,
    losses: int,
    bySymbol: { type: 'object', additionalProperties: { type: 'object' } },
    ts: int,
  },
};

/** Risk state and kill switch mode (`GET /api/risk`). */
export const riskSchema: JsonSchema = {
  type: 'object',
  required: ['mode', 'limits'],
  properties: {
    mode: { type: 'string', enum: ['RUNNING', 'REDUCING', 'HALTED'] },
    reason: str,
    since: int,
    limits: { type: 'object', additionalProperties: num },
    usage: { type: 'object', additionalProperties: num },
    releaseHold: {
      type: 'object',
      required: ['releasedAt', 'until', 'drawdownResumesAt', 'dailyLossResumesAt'],
      properties: { releasedAt: int, until: int, drawdownResumesAt: num, dailyLossResumesAt: num },
    },
  },
};

/** Strategy parameters: a flat object of scalars. */
export const paramsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: { type: ['number', 'string', 'boolean'] },
};

/** An alert (`GET /api/alerts`). */
export const alertSchema: JsonSchema = {
  type: 'object',
  required: ['id', 'name', 'severity', 'state'],
  properties: {
    id: str,
    name: str,
    severity: str,
    state: str,
    summary: str,
    labels: { type: 'object', additionalProperties: str },
    since: int,
    acknowledged: { type: 'boolean' },
    silenced: { type: 'boolean' },
  },
};

/** Component health and stage latency (`GET /api/status`). */
export const statusSchema: JsonSchema = {
  type: 'object',
  required: ['status', 'components', 'latency'],
  properties: {
    status: { type: 'string', enum: ['pass', 'warn', 'fail'] },
    components: {
      type: 'array',
      items: { type: 'object', required: ['name', 'status'], properties: { name: str, status: str, output: str } },
    },
    latency: { type: 'object', additionalProperties: { type: 'object' } },
    uptimeSec: num,
    api: { type: 'object' },
    symbols: { type: 'array', items: str },
    model: { type: 'object' },
  },
};

/** An audit log row (`GET /api/audit`). */
export const auditRowSchema: JsonSchema = {
  type: 'object',
  properties: {
    id: str,
    at: { type: 'string', format: 'date-time' },
    actor: str,
    role: { type: ['string', 'null'] },
    action: str,
    requestId: { type: ['string', 'null'] },
    ip: { type: ['string', 'null'] },
    outcome: { type: 'string', enum: ['success', 'failure', 'denied'] },
    detail: { type: 'object' },
  },
};

/** Every error response. */
export const errorSchema: JsonSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'message'],
  properties: {
    statusCode: int,
    code: str,
    message: str,
    field: str,
    requestId: str,
  },
};

// ---- request schemas (enforced) ----

/** A `limit` query parameter between 1 and `max`, `def` when absent. */
export const limitParam = (max: number, def: number): JsonSchema => ({
  type: 'integer',
  minimum: 1,
  maximum: max,
  default: def,
});

/** Query of `GET /api/orders`. */
export const ordersQuery: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { symbol, status: orderStatus, limit: limitParam(1000, 100) },
};

/** Query of `GET /api/fills`. */
export const fillsQuery: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { symbol, since: { type: 'integer', minimum: 0 }, limit: limitParam(1000, 100) },
};

/** The `:id` path parameter (client order ids, alert ids). */
export const idParams: JsonSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' } },
};

/** No query parameters accepted. */
export const emptyQuery: JsonSchema = { type: 'object', additionalProperties: false, properties: {} };

/** Query of `GET /api/audit`. */
export const auditQuery: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: limitParam(1000, 100),
    action: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z.-]+$' },
  },
};

/** Body of `PUT /api/strategy/params`: 1-50 scalar parameters. */
export const paramsPatchBody: JsonSchema = {
  type: 'object',
  minProperties: 1,
  maxProperties: 50,
  propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_.]{0,63}$' },
  additionalProperties: {
    anyOf: [{ type: 'number' }, { type: 'boolean' }, { type: 'string', maxLength: 256 }],
  },
};

const reason = { type: 'string', minLength: 1, maxLength: 500 } as const;

/** Body of `POST /api/kill-switch`. */
export const killSwitchBody: JsonSchema = {
  type: 'object',
  required: ['mode', 'reason'],
  additionalProperties: false,
  properties: { mode: { type: 'string', enum: ['REDUCING', 'HALTED'] }, reason },
};

/** Body of `POST /api/kill-switch/release`. */
export const releaseBody: JsonSchema = {
  type: 'object',
  required: ['reason'],
  additionalProperties: false,
  properties: { reason },
};

/** Body of `POST /api/alerts/silences`. */
export const silenceBody: JsonSchema = {
  type: 'object',
  required: ['matchers', 'durationMs', 'comment'],
  additionalProperties: false,
  properties: {
    matchers: {
      type: 'object',
      minProperties: 1,
      maxProperties: 10,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
      additionalProperties: { type: 'string', minLength: 1, maxLength: 200 },
    },
    durationMs: { type: 'integer', minimum: 60_000, maximum: 7 * 24 * 3_600_000 },
    comment: reason,
  },
};

/** Optional body of `POST /api/alerts/:id/ack`. */
export const ackBody: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { comment: { type: 'string', maxLength: 500 } },
};

/** Optional body of `POST /api/orders/:id/cancel`. */
export const cancelBody: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', maxLength: 500 } },
};
