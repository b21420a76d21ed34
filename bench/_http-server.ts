// A server for bench/http-framework.ts, in its own process: `bare` (node:http) or `fastify` (the daemon's own
// createHttpServer — its error handling, its onResponse metrics hook — with one route shaped like the entity read),
// both answering the same constant JSON with the same headers. Prints "up <port>" once listening.
import http from 'node:http';
import { createMetrics } from '../lib/metrics.ts';
import { createHttpServer } from '../web/http/server.ts';

const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);
const answer = { entity: 'x', shard: 3, tags: ['a', 'b'], source: 'cache', servedBy: 'redis0', consistency: 'none' };
if (kind === 'bare') {
  const body = JSON.stringify(answer);
  http.createServer((_q, s) => {
    s.setHeader('content-type', 'application/json; charset=utf-8');
    s.setHeader('x-tagstream-source', 'cache');
    s.end(body);
  }).listen(port, '127.0.0.1', () => console.log(`up ${port}`));
} else {
  const app = createHttpServer({ metrics: createMetrics(), health: { notReadyReasons: () => [], status: () => ({}) } });
  app.get<{ Params: { entity: string } }>('/v1/entities/:entity/tags', async (req, reply) => reply.header('x-tagstream-source', 'cache').send({ ...answer, entity: req.params.entity }));
  await app.listen({ port, host: '127.0.0.1' });
  console.log(`up ${port}`);
}
