// HTTP error answers: `{ error: { code, message, field?, errorId? } }` with a status that says what happened.
// 4xx: the client can fix it (each framework refusal has its own code); 409/503 + Retry-After: not possible
// right now, retrying helps; 500 + error id: a bug of ours, logged under the same id — never "retry".
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from '../../lib/logger.ts';
import { ErrorCodes, TagstreamError, type ErrorCode } from '../../lib/errors.ts';

export function badRequest(message: string, field?: string): TagstreamError {
  return new TagstreamError(ErrorCodes.BAD_REQUEST, message, field === undefined ? {} : { details: { field } });
}

/**
 * The HTTP status of our codes (docs/errors.md shows the same table; a unit test holds them equal). A code
 * missing here answers by its error's `retriable` flag: 503 + Retry-After, else 500 with an error id.
 */
export const HTTP_STATUS: Readonly<Partial<Record<ErrorCode, number>>> = {
  [ErrorCodes.BAD_REQUEST]: 400,
  [ErrorCodes.TOKEN_INVALID]: 400,
  [ErrorCodes.COMMAND_INVALID]: 400,
  [ErrorCodes.COMMAND_UNKNOWN_OP]: 400,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.FAULT_INJECTION_OFF]: 403,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.METHOD_NOT_ALLOWED]: 405,
  [ErrorCodes.ACTION_UNAVAILABLE]: 409,
  [ErrorCodes.NOT_LEADER]: 409,
  [ErrorCodes.COMMAND_TOO_LARGE]: 413,
  [ErrorCodes.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCodes.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCodes.INTERNAL]: 500,
  [ErrorCodes.NOT_SUPPORTED]: 501,
  [ErrorCodes.CONFIG_INVALID]: 500,
  [ErrorCodes.SERVICE_START]: 500,
  [ErrorCodes.UNAVAILABLE]: 503,
  [ErrorCodes.SHUTTING_DOWN]: 503,
  [ErrorCodes.BULKHEAD_FULL]: 503,
  [ErrorCodes.BREAKER_OPEN]: 503,
  [ErrorCodes.TIMEOUT]: 503,
  [ErrorCodes.MAILBOX_FULL]: 503,
  [ErrorCodes.RETRIES_EXHAUSTED]: 503,
  [ErrorCodes.TOPOLOGY_CHANGED]: 503,
  [ErrorCodes.FENCED]: 503,
  [ErrorCodes.ACTOR_STOPPED]: 503,
};

/** Seconds a client should wait before retrying, for answers where retrying helps (409 and 503). */
export const RETRY_AFTER_SECONDS: Readonly<Partial<Record<ErrorCode, number>>> = {
  [ErrorCodes.ACTION_UNAVAILABLE]: 5,
  [ErrorCodes.NOT_LEADER]: 1,
  [ErrorCodes.UNAVAILABLE]: 1,
  [ErrorCodes.SHUTTING_DOWN]: 1,
  [ErrorCodes.BULKHEAD_FULL]: 1,
  [ErrorCodes.BREAKER_OPEN]: 2,
  [ErrorCodes.TIMEOUT]: 1,
  [ErrorCodes.MAILBOX_FULL]: 1,
  [ErrorCodes.RETRIES_EXHAUSTED]: 5,
  [ErrorCodes.TOPOLOGY_CHANGED]: 1,
  [ErrorCodes.FENCED]: 1,
  [ErrorCodes.ACTOR_STOPPED]: 1,
};

/** Ours by code, not by class: adapters sometimes throw a plain Error carrying one of our codes. */
function ourCode(err: unknown): ErrorCode | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^TS_ERR_[A-Z0-9_]+$/.test(code) ? (code as ErrorCode) : undefined;
}

/** fastify's own refusals (parsing, body limit, content type, schema validation) → our codes. */
const FRAMEWORK: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCodes.PAYLOAD_TOO_LARGE,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCodes.BAD_REQUEST,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCodes.BAD_REQUEST,
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCodes.BAD_REQUEST,
  FST_ERR_VALIDATION: ErrorCodes.BAD_REQUEST,
};
const BY_STATUS: Record<number, ErrorCode> = { 404: ErrorCodes.NOT_FOUND, 405: ErrorCodes.METHOD_NOT_ALLOWED, 413: ErrorCodes.PAYLOAD_TOO_LARGE, 415: ErrorCodes.UNSUPPORTED_MEDIA_TYPE };

export interface ErrorBody {
  /** `leader`: TS_ERR_NOT_LEADER names the failover leader (daemon id, HTTP URL, term) so a client can go there. */
  error: { code: string; message: string; field?: string; errorId?: string; leader?: unknown };
}

/** The status an error of `code` answers with; `retriable` decides for a code without an entry. */
export function httpStatusOf(code: ErrorCode, retriable = false): number {
  return HTTP_STATUS[code] ?? (retriable ? 503 : 500);
}

function send(reply: FastifyReply, code: ErrorCode, message: string, extra: { field?: string; errorId?: string; status?: number; leader?: unknown } = {}) {
  const status = extra.status ?? httpStatusOf(code);
  const retryAfter = RETRY_AFTER_SECONDS[code] ?? (status === 503 ? 1 : undefined);
  if (retryAfter !== undefined && (status === 409 || status === 503)) reply.header('retry-after', String(retryAfter));
  const body: ErrorBody = { error: { code, message, ...(extra.field ? { field: extra.field } : {}), ...(extra.errorId ? { errorId: extra.errorId } : {}), ...(extra.leader !== undefined ? { leader: extra.leader } : {}) } };
  return reply.code(status).send(body);
}

/** A schema validation error as "body.actor: must be string" with the field named. */
function validationAnswer(err: FastifyError): { message: string; field?: string } {
  const first = err.validation?.[0];
  if (!first) return { message: err.message };
  const context = err.validationContext ?? 'body';
  const params = first.params as { additionalProperty?: string; missingProperty?: string };
  const at = first.instancePath.split('/').filter(Boolean);
  if (params.additionalProperty !== undefined) at.push(params.additionalProperty);
  if (params.missingProperty !== undefined) at.push(params.missingProperty);
  const field = [context, ...at].join('.').slice(0, 120); // the name of an unknown field is the client's text
  const why = params.additionalProperty !== undefined ? 'unknown field' : params.missingProperty !== undefined ? 'required' : (first.message ?? 'invalid');
  const all = err.validation!.length > 1 ? ` (and ${err.validation!.length - 1} more problem(s))` : '';
  return { message: `${field}: ${why}${all}`, field };
}

/**
 * Every 5xx is logged with its route through `logger` (fastify's own logger is off); an unexpected exception
 * is logged with the error id its answer carries, so a client's report finds the log line.
 */
export function installErrorHandling(app: FastifyInstance, logger?: Logger): void {
  const routes = routeTable(app);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const route = req.routeOptions.url;
    const unexpected = (code: ErrorCode) => {
      const errorId = randomUUID();
      (logger ?? req.log).error({ err, errorId, route, method: req.method }, 'request failed with an unexpected error');
      return send(reply, code, `internal error (error id ${errorId}); this is a bug: report it with the id`, { errorId });
    };
    const ours = ourCode(err);
    if (ours) {
      const status = httpStatusOf(ours, (err as { retriable?: unknown }).retriable === true);
      if (status === 500) return unexpected(ours);
      if (status >= 500) logger?.warn({ err, route, status, code: ours }, 'request answered with a 5xx');
      const field = err instanceof TagstreamError && typeof err.details?.field === 'string' ? err.details.field : undefined;
      const leader = ours === ErrorCodes.NOT_LEADER && err instanceof TagstreamError ? err.details?.leader : undefined;
      return send(reply, ours, err.message, { field, status, ...(leader !== undefined ? { leader } : {}) });
    }
    const framework = typeof err.code === 'string' ? FRAMEWORK[err.code] : undefined;
    if (framework === ErrorCodes.BAD_REQUEST && err.validation) {
      const v = validationAnswer(err);
      return send(reply, framework, v.message, { field: v.field });
    }
    if (framework) return send(reply, framework, err.message);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return send(reply, BY_STATUS[err.statusCode] ?? ErrorCodes.BAD_REQUEST, err.message, { status: err.statusCode });
    return unexpected(ErrorCodes.INTERNAL);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const allowed = routes.methodsFor(path).filter((m) => m !== req.method);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return send(reply, ErrorCodes.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`);
    }
    return send(reply, ErrorCodes.NOT_FOUND, `no route ${req.method} ${path}`);
  });
}

/** The routes registered after this call, to tell "no such path" (404) from "not with this method" (405). */
function routeTable(app: FastifyInstance): { methodsFor(path: string): string[] } {
  const table: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const source = r.url
      .split('/')
      .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\*/g, '.*')))
      .join('/');
    table.push({ pattern: new RegExp(`^${source}/?$`), methods: methods.map(String) });
  });
  return { methodsFor: (path) => [...new Set(table.filter((t) => t.pattern.test(path)).flatMap((t) => t.methods))].sort() };
}
