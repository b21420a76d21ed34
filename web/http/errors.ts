// HTTP error bodies: { error: { code, message } }, 4xx for anything the client can fix.
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../lib/logger.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';

export function badRequest(message: string): TagstreamError {
  return new TagstreamError(ErrorCodes.BAD_REQUEST, message);
}

const STATUS: Partial<Record<string, number>> = {
  [ErrorCodes.BAD_REQUEST]: 400,
  [ErrorCodes.TOKEN_INVALID]: 400,
  [ErrorCodes.COMMAND_INVALID]: 400,
  [ErrorCodes.COMMAND_TOO_LARGE]: 413,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.SHUTTING_DOWN]: 503,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.FAULT_INJECTION_OFF]: 403,
  [ErrorCodes.ACTION_UNAVAILABLE]: 501,
};

/** Every 5xx is logged with its route and cause through `logger` (fastify's own logger is off). */
export function installErrorHandling(app: FastifyInstance, logger?: Logger): void {
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof TagstreamError) {
      const status = STATUS[err.code] ?? 503;
      if (status >= 500) logger?.warn({ err, route: req.routeOptions.url, status }, 'request answered with a 5xx');
      return reply.code(status).send({ error: { code: err.code, message: err.message } });
    }
    const e = err as { statusCode?: number; code?: string; message: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: { code: ErrorCodes.BAD_REQUEST, message: e.message } });
    }
    (logger ?? req.log).error({ err, route: req.routeOptions.url }, 'request failed');
    return reply.code(503).send({ error: { code: 'TS_ERR_UNAVAILABLE', message: 'temporarily unavailable; retry' } });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: ErrorCodes.NOT_FOUND, message: `no route ${req.method} ${req.url.split('?')[0]}` } }));
}
