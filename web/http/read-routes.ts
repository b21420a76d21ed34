// The read API: entity tags (critical, read-your-writes with a consistency token; with no node of its cluster
// answering, the cache's last-known entry marked stale, else 503 + Retry-After) and popular tags
// (non-critical: degrades to last-known-good with a "features limited" marker, never an error). Input is
// validated here; the read paths live in features/reads.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ENTITY_RE, type CommandLimits } from '../../lib/command.ts';
import { isBulkheadFull } from '../../lib/bulkhead.ts';
import type { Clock } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Metrics } from '../../lib/metrics.ts';
import { verifyToken, type ConsistencyToken } from '../../lib/token.ts';
import { badRequest } from './errors.ts';
import type { EntityTagsAnswer, PopularAnswer } from './read-answers.ts';

export const TOKEN_HEADER = 'x-consistency-token';
export const SOURCE_HEADER = 'x-tagstream-source';
export const FEATURES_LIMITED_HEADER = 'x-tagstream-features-limited';

const HEADER_ASCII: Record<string, string> = { '“': '"', '”': '"', '‘': "'", '’': "'", '—': '-', '–': '-', '…': '...', '→': '->', '≥': '>=', '≤': '<=' };

/**
 * A reason as an HTTP header value: printable ASCII on one line, at most 200 characters. Reasons often quote a
 * backend's error message, and Node refuses a header with a newline or a non-Latin-1 character — the degraded
 * answer would have become a 500. The body keeps the reason whole.
 */
export function headerValue(reason: string): string {
  const ascii = reason
    .replace(/[“”‘’—–…→≥≤]/g, (c) => HEADER_ASCII[c] ?? '?')
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return (ascii.length > 200 ? `${ascii.slice(0, 197)}...` : ascii) || 'degraded';
}

export interface ReadRouteDeps {
  reads: { entityTags(entity: string, token?: ConsistencyToken): Promise<EntityTagsAnswer>; popularTags(limit: number): Promise<PopularAnswer>; shedPopular(limit: number): PopularAnswer };
  /** Read requests in progress beyond which new ones are shed at once (entity: 503; popular: last-known-good). */
  maxInFlight: number;
  tokenSecret: string;
  shardCount: number;
  limits: CommandLimits;
  popularMaxLimit: number;
  metrics: Metrics;
  clock: Clock;
}

type Query = Record<string, unknown>;

function onlyKnown(query: Query, known: string[]): void {
  const unknown = Object.keys(query).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw badRequest(`unknown query parameter(s): ${unknown.map((k) => k.slice(0, 32)).join(', ')}; accepted: ${known.join(', ') || 'none'}`);
}

function single(query: Query, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name}: give it once`);
  return v;
}

/** A saturated bulkhead or daemon sheds the read with 503 + Retry-After (the only 5xx a read answers on purpose). */
function shed(reply: FastifyReply, why: string) {
  return reply.code(503).header('retry-after', '1').send({ error: { code: 'TS_ERR_BULKHEAD_FULL', message: `${why}; retry shortly` } });
}

export function registerReadRoutes(app: FastifyInstance, deps: ReadRouteDeps): void {
  const { metrics, clock } = deps;
  // Admission: past maxInFlight the daemon is overloaded; answering the excess at once (cheaply) keeps the
  // admitted reads fast, and keeps the cache deadlines measuring Redis rather than our own queue.
  let inFlight = 0;
  const admit = async <T>(fn: () => Promise<T>, refuse: () => T): Promise<T> => {
    if (inFlight >= deps.maxInFlight) return refuse();
    inFlight++;
    try {
      return await fn();
    } finally {
      inFlight--;
    }
  };

  app.get<{ Params: { entity: string }; Querystring: Query }>('/v1/entities/:entity/tags', async (req, reply) => {
    const started = clock.now();
    const { entity } = req.params;
    onlyKnown(req.query, ['token']);
    if (entity.length > deps.limits.maxEntityLength) throw badRequest(`entity: at most ${deps.limits.maxEntityLength} characters`);
    if (!ENTITY_RE.test(entity)) throw badRequest('entity: letters, digits and _ . : / - only, starting with a letter or digit');
    const fromQuery = single(req.query, 'token');
    const header = req.headers[TOKEN_HEADER];
    const fromHeader = Array.isArray(header) ? header[0] : header;
    if (fromQuery !== undefined && fromHeader !== undefined && fromQuery !== fromHeader) throw badRequest(`token: the query parameter and the ${TOKEN_HEADER} header differ`);
    const raw = fromQuery ?? fromHeader;
    const token = raw === undefined || raw === '' ? undefined : verifyToken(raw, deps.tokenSecret, deps.shardCount);
    let answer: EntityTagsAnswer | null;
    try {
      answer = await admit(() => deps.reads.entityTags(entity, token), () => null);
    } catch (err) {
      if (isBulkheadFull(err)) return shed(reply, `${errorMessage(err)}: too many database reads in flight`);
      throw err;
    }
    if (answer === null) {
      metrics.readRequests.inc({ endpoint: 'entity-tags', source: 'shed' });
      return shed(reply, `overloaded: ${deps.maxInFlight} reads in progress`);
    }
    const stale = answer.consistency === 'stale';
    metrics.readRequests.inc({ endpoint: 'entity-tags', source: stale ? 'last-known-good' : answer.source });
    metrics.readSeconds.observe({ endpoint: 'entity-tags' }, (clock.now() - started) / 1000);
    // No node of the entity's cluster answered: the cache's last-known entry, marked (issue 17).
    if (stale) reply.header(FEATURES_LIMITED_HEADER, 'database-unavailable');
    return reply.header(SOURCE_HEADER, answer.source).send(answer);
  });

  app.get<{ Querystring: Query }>('/v1/tags/popular', async (req, reply) => {
    const started = clock.now();
    onlyKnown(req.query, ['limit']);
    const rawLimit = single(req.query, 'limit');
    const limit = rawLimit === undefined ? 10 : Number(rawLimit);
    if (!/^\d{1,4}$/.test(rawLimit ?? '10') || !Number.isInteger(limit) || limit < 1 || limit > deps.popularMaxLimit) {
      throw badRequest(`limit: an integer from 1 to ${deps.popularMaxLimit} (got "${String(rawLimit).slice(0, 16)}")`);
    }
    const answer = await admit(() => deps.reads.popularTags(limit), () => deps.reads.shedPopular(limit));
    metrics.readRequests.inc({ endpoint: 'popular-tags', source: answer.source });
    metrics.readSeconds.observe({ endpoint: 'popular-tags' }, (clock.now() - started) / 1000);
    reply.header(SOURCE_HEADER, answer.source);
    if (answer.featuresLimited) reply.header(FEATURES_LIMITED_HEADER, headerValue(answer.reason ?? 'degraded'));
    return reply.send({ ...answer, ...(answer.asOf !== undefined ? { asOf: new Date(answer.asOf).toISOString() } : {}) });
  });
}
