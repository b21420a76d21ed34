// Operator routes of the failover feature, behind the admin token (the dashboard's check):
//   POST /admin/reseed/:cluster/:node   re-seed a diverged old primary as a replica, then route reads to it
//   POST /admin/adopt/:cluster/:node    route reads to a node an operator re-seeded by hand
//   GET  /admin/failover                every cluster's monitor: mode, state, topology, last failover, diverged
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorMessage, TagstreamError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { checkAdminToken } from '../dashboard/auth.ts';
import type { FailoverApi } from './index.ts';

export function registerFailoverRoutes(app: FastifyInstance, deps: { adminToken: string; api: FailoverApi; logger: Logger }): void {
  const { api } = deps;
  // A failure that is not a refusal keeps its message (the generic handler would say only "retry").
  const run = async <T>(reply: FastifyReply, action: string, fn: () => Promise<T>): Promise<T | FastifyReply> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TagstreamError) throw err;
      // An unexpected failure: a 500 whose error id is also in the log line (web/http/errors.ts does the same).
      const errorId = randomUUID();
      deps.logger.error({ err, action, errorId }, 'operator action failed');
      return reply.code(500).send({ error: { code: 'TS_ERR_INTERNAL', message: `${action}: ${errorMessage(err)} (error id ${errorId})`, errorId } });
    }
  };
  app.register(
    async (admin) => {
      admin.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        const refusal = checkAdminToken(req.headers.authorization, deps.adminToken);
        if (refusal) return reply.code(401).header('www-authenticate', 'Bearer realm="tagstream operator actions"').send({ error: { code: refusal.code, message: refusal.message } });
      });
      admin.post<{ Params: { cluster: string; node: string } }>('/reseed/:cluster/:node', (req, reply) => run(reply, `reseed ${req.params.cluster} ${req.params.node}`, () => api.reseed(req.params.cluster, req.params.node)));
      admin.post<{ Params: { cluster: string; node: string } }>('/adopt/:cluster/:node', (req, reply) =>
        run(reply, `adopt ${req.params.cluster} ${req.params.node}`, async () => ({ cluster: req.params.cluster, node: req.params.node, topology: await api.adopt(req.params.cluster, req.params.node) })),
      );
      admin.get('/failover', async () => ({ clusters: Object.fromEntries([...api.monitors].map(([n, m]) => [n, m.status()])) }));
    },
    { prefix: '/admin' },
  );
}
