import type { ErrorObject } from 'ajv';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { isApiError } from '../errors.js';
import type { PluginOptions } from './context.js';

/**
 * One error shape for every failure: `{ statusCode, code, message, field?, requestId }`. Schema failures are 400
 * `E_API_BAD_REQUEST` naming the field (`body.mode`, `querystring.limit`); a body over `bodyLimit` is 413; Fastify's
 * own client errors (malformed JSON, unsupported media type) keep their status; anything else is 500 without details.
 * A refused body or input on an audited route writes a `failure` row. Unknown routes are 404 (rate limited per IP).
 */
async function errors(app: FastifyInstance, { options }: PluginOptions): Promise<void> {
  app.setErrorHandler(async (err: unknown, req, reply) => {
    const e = err as Error & {
      validation?: ErrorObject[];
      validationContext?: string;
      statusCode?: number;
      code?: string;
    };
    let status = 500;
    let code = 'E_API_INTERNAL';
    let message = 'internal error';
    let field: string | undefined;
    let auditHere = false;
    if (Array.isArray(e.validation)) {
      status = 400;
      code = 'E_API_BAD_REQUEST';
      ({ field, message } = describeValidation(e.validation, e.validationContext ?? 'body'));
      auditHere = true;
    } else if (isApiError(e)) {
      status = e.status;
      code = e.code;
      message = e.message;
      field = e.field;
    } else if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      code = 'E_API_BODY_TOO_LARGE';
      message = `request body larger than ${options.bodyLimit} bytes`;
      auditHere = true;
    } else if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      // Fastify's own client errors (malformed JSON, unsupported media type): their messages are safe.
      status = e.statusCode;
      code = status === 413 ? 'E_API_BODY_TOO_LARGE' : 'E_API_BAD_REQUEST';
      message = e.message;
      field = 'body';
      auditHere = true;
    }
    const def = req.routeOptions.config.def;
    if (auditHere && def?.audit !== undefined && req.principal !== null)
      await app.audit.append({
        actor: req.principal.sub,
        role: req.principal.role,
        action: def.audit,
        outcome: 'failure',
        requestId: req.id,
        ip: req.ip,
        detail: { status, error: message, ...(field === undefined ? {} : { field }) },
      });
    reply.code(status);
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="cryptoscalp-trader"');
    return { statusCode: status, code, message, ...(field === undefined ? {} : { field }), requestId: req.id };
  });

  app.setNotFoundHandler(
    options.rateLimit.perIp > 0 ? { preHandler: app.rateLimit({ max: options.rateLimit.perIp }) } : {},
    async (req, reply) => {
      reply.code(404);
      return {
        statusCode: 404,
        code: 'E_API_NOT_FOUND',
        message: `no route ${req.method} ${req.url.split('?', 1)[0]}`,
        requestId: req.id,
      };
    },
  );
}

/** Turns the first ajv error into a field path (`body.mode`, `querystring.limit`) and a readable message. */
export function describeValidation(errors: ErrorObject[], context: string): { field: string; message: string } {
  const e = errors[0] as ErrorObject;
  const params = e.params as Record<string, unknown>;
  let field = context + e.instancePath.replace(/\//g, '.');
  let message = `${field} ${e.message ?? 'is invalid'}`;
  if (typeof params.missingProperty === 'string') {
    field = `${field}.${params.missingProperty}`;
    message = `${field} is required`;
  } else if (typeof params.additionalProperty === 'string') {
    field = `${field}.${params.additionalProperty}`;
    message = `${field} is not an accepted field`;
  } else if (e.keyword === 'propertyNames' && typeof params.propertyName === 'string') {
    field = `${field}.${params.propertyName}`;
    message = `${field} is not a valid name`;
  } else if (Array.isArray(params.allowedValues)) {
    message = `${field} must be one of ${params.allowedValues.join(', ')}`;
  }
  return { field, message };
}

export default fp(errors, {
  name: 'trader-errors',
  fastify: '5.x',
  dependencies: ['trader-audit', 'trader-rate-limit'],
});
