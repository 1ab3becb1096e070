import type { IncomingMessage, ServerResponse } from 'node:http';
import { HealthError, HealthErrorCode } from './errors.js';
import { createHealthHandler } from './health-handler.js';
import type { HealthRegistry } from './health-registry.js';
import type { HealthHandlerOptions } from './types.js';

/** The part of a Fastify request the plugin uses (structural: fastify is not imported). */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
}

/** The part of a Fastify reply the plugin uses. */
export interface FastifyReplyLike {
  readonly raw: ServerResponse;
  hijack(): unknown;
}

/** The part of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  /** The encapsulation context's route prefix (from `register(plugin, { prefix })`). */
  readonly prefix: string;
  route(options: {
    method: string[];
    url: string;
    handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => void;
  }): unknown;
}

/** Options of {@link healthPlugin}: the registry plus the {@link createHealthHandler} options. */
export interface HealthPluginOptions extends HealthHandlerOptions {
  /** The registry to serve. */
  registry: HealthRegistry;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const HANDLER_KEYS = ['basePath', 'metrics', 'alerts', 'benchmark', 'authorize', 'protectMetrics'] as const;

/**
 * Fastify plugin serving the same routes with the same semantics as {@link createHealthHandler}, under the
 * registration prefix: `app.register(healthPlugin, { registry, prefix: '/ops' })` serves `/ops/health/...`.
 * The route handlers hijack the reply and answer from the raw node:http objects (the precomputed probe bodies,
 * no Fastify serialization). The plugin is encapsulated (no `skip-override`): Fastify ignores `prefix` for
 * plugins that skip encapsulation, and the plugin adds no decorators or hooks that the parent would need.
 */
export function healthPlugin(
  instance: FastifyInstanceLike,
  options: HealthPluginOptions,
  done: (error?: Error) => void,
): void {
  try {
    // Structural, so a registry from a duplicate install of this package works too.
    if (typeof (options?.registry as Partial<HealthRegistry> | undefined)?.readinessState !== 'function') {
      throw new HealthError(HealthErrorCode.INVALID_OPTION, 'invalid option registry: must be a HealthRegistry', {
        field: 'registry',
      });
    }
    const handlerOptions: HealthHandlerOptions = {};
    for (const key of HANDLER_KEYS) {
      if (options[key] !== undefined) (handlerOptions as Record<string, unknown>)[key] = options[key];
    }
    const basePath = (options.basePath ?? '/health').replace(/\/+$/, '');
    const prefix = (instance.prefix ?? '').replace(/\/+$/, '');
    handlerOptions.basePath = `${prefix}${basePath}` || '/';
    const handler = createHealthHandler(options.registry, handlerOptions);
    const route = (request: FastifyRequestLike, reply: FastifyReplyLike): void => {
      reply.hijack();
      handler(request.raw, reply.raw);
    };
    instance.route({ method: METHODS, url: basePath || '/', handler: route });
    instance.route({ method: METHODS, url: `${basePath}/*`, handler: route });
    done();
  } catch (error) {
    done(error as Error);
  }
}
