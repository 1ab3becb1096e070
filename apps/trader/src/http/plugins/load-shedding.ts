import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../errors.js';
import type { PluginOptions } from './context.js';

/**
 * Load shedding with `@fastify/under-pressure`: while the mean event-loop delay, the heap, the RSS or the event-loop
 * utilization is above its threshold (sampled every `sampleIntervalMs`), requests are answered 503
 * `E_API_OVERLOADED` with `Retry-After` before any other work (it is the first `onRequest` hook after the
 * counters). The health probes (`config.probe`) are exempt: an overloaded instance is alive, and its readiness
 * says what it says. The event-loop delay counts from two sample intervals after `listen` on (the samples before
 * measure the server's own start-up). `app.isUnderPressure()` is there for the stream upgrades.
 */
async function loadShedding(app: FastifyInstance, { options, counters }: PluginOptions): Promise<void> {
  const o = options.loadShedding;
  if (o === false) return;
  const retryAfter = String(o.retryAfterSec);
  let graceUntil = Number.POSITIVE_INFINITY;
  app.addHook('onListen', async () => {
    graceUntil = performance.now() + 2 * o.sampleIntervalMs;
  });
  await app.register(underPressure, {
    maxEventLoopDelay: o.maxEventLoopDelayMs,
    maxHeapUsedBytes: o.maxHeapUsedBytes,
    maxRssBytes: o.maxRssBytes,
    maxEventLoopUtilization: o.maxEventLoopUtilization,
    sampleInterval: o.sampleIntervalMs,
    retryAfter: o.retryAfterSec,
    pressureHandler: (req, reply, type) => {
      if (req.routeOptions.config.probe === true) return undefined;
      // The samples up to one full interval after `listen` include the server's own construction (schemas compiled,
      // plugins loaded: over a second of busy loop on a loaded 2-core machine), which shed the first requests.
      if (type === 'eventLoopDelay' && performance.now() < graceUntil) return undefined;
      counters.shed++;
      reply.header('retry-after', retryAfter);
      return Promise.reject(new ApiError('E_API_OVERLOADED', `server overloaded (${type}), retry later`));
    },
  });
}

export default fp(loadShedding, { name: 'trader-load-shedding', fastify: '5.x' });
