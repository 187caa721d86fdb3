import type { FastifyPluginAsync } from 'fastify';

/** What the health routes check. */
export interface HealthRoutesOptions {
  /** Resolves when the queue store answers and this process's workers run; rejects otherwise. */
  ready: () => Promise<void>;
}

/** `/healthz` (the process answers) and `/readyz` (it can do its work). Never rate-limited. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { ready }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await ready();
      return { status: 'ready' };
    } catch (err) {
      const reason = err instanceof Error && err.message.startsWith('workers not running') ? err.message : 'Redis does not answer';
      return reply.code(503).send({ status: 'unavailable', reason });
    }
  });
};
