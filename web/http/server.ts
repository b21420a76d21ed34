// The daemon's HTTP server (fastify): API, health, status, metrics. Binds 127.0.0.1 unless configured.
import Fastify, { type FastifyInstance } from 'fastify';
import { ErrorCodes } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Metrics } from '../../lib/metrics.ts';
import { installErrorHandling } from './errors.ts';

export interface HealthSource {
  /** Empty when ready; otherwise every reason it is not. */
  notReadyReasons(): string[];
  status(): unknown;
}

export function createHttpServer(opts: { metrics: Metrics; health: HealthSource; bodyLimit?: number; logger?: Logger }): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    routerOptions: { maxParamLength: 600 },
    // Route schemas validate, they do not repair: no type coercion ({"actor": 1} is not "1"), no silent removal
    // of unknown fields (additionalProperties: false refuses them), and every problem reported.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    // Malformed URLs and bodies are answered by fastify before our error handler: same body shape, 400.
    frameworkErrors: (err, _req, reply) => void (reply as unknown as { code(n: number): { send(b: unknown): unknown } }).code(400).send({ error: { code: ErrorCodes.BAD_REQUEST, message: err.message } }),
  });
  installErrorHandling(app, opts.logger);
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    opts.metrics.httpRequests.inc({ route, status: `${Math.floor(reply.statusCode / 100)}xx` });
  });
  app.get('/healthz', async () => ({ status: 'alive' }));
  app.get('/readyz', async (_req, reply) => {
    const reasons = opts.health.notReadyReasons();
    return reply.code(reasons.length === 0 ? 200 : 503).send({ ready: reasons.length === 0, reasons });
  });
  app.get('/status', async () => opts.health.status());
  app.get('/metrics', async (_req, reply) => reply.header('content-type', opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()));
  return app;
}
