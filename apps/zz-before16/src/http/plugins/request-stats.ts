import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { PluginOptions } from './context.js';

/**
 * Counts requests and responses by status class into the shared counters (`stats()`), once per request when its
 * response is done (one hook, not two: a request still in flight is not counted yet).
 */
async function requestStats(app: FastifyInstance, { counters }: PluginOptions): Promise<void> {
  app.addHook('onResponse', (_req, reply, done) => {
    counters.requests++;
    const c = reply.statusCode;
    if (c < 300) counters.responses['2xx']++;
    else if (c < 400) counters.responses['3xx']++;
    else if (c < 500) counters.responses['4xx']++;
    else counters.responses['5xx']++;
    done();
  });
}

export default fp(requestStats, { name: 'trader-request-stats', fastify: '5.x' });
