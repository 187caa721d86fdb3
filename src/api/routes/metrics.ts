import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { refuseUnlessAllowed, type RouteLimits } from '../access';

/** The registry `/metrics` serves, where its token is read, and its rate limit. */
export interface MetricsRoutesOptions {
  metrics: Registry;
  env: NodeJS.ProcessEnv;
  limited: RouteLimits;
}

/** `/metrics`: behind `METRICS_TOKEN` as a bearer token, or to loopback callers only without one; limited as the dashboard is. */
export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, { metrics, env, limited }) => {
  app.get('/metrics', limited('dashboard'), async (request, reply) => {
    const refused = refuseUnlessAllowed(request, reply, env, 'METRICS_TOKEN', 'serve metrics to other hosts');
    if (refused) return refused;
    return reply.header('content-type', metrics.contentType).send(await metrics.metrics());
  });
};
