// HTTP of the indexing slice. Public: GET /v1/search (hits and how fresh the index is), GET /v1/analytics/usage.
// Operator (Authorization: Bearer <http.adminToken>): the DLQ (list, replay, park) and reconcile — what the
// `tagstream dlq …` and `tagstream reconcile` commands call.
import { FEATURES_LIMITED_HEADER, headerValue } from '../../web/http/read-routes.ts';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { UsageRow } from '../../adapters/analytics/port.ts';
import type { SearchHit } from '../../adapters/search/port.ts';
import type { DeadLetterView } from '../../actors/dlq/dlq-record.ts';
import type { PassOptions, PassResult } from '../../actors/dlq/replayer.ts';
import { TAG_RE, type CommandLimits } from '../../lib/command.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import { bodyFields } from '../../web/http/body.ts';
import { badRequest } from '../../web/http/errors.ts';
import type { ReconcileOptions, ReconcileReport } from './reconcile.ts';

export interface IndexingRouteDeps {
  adminToken: string;
  limits: CommandLimits;
  shardCount: number;
  search(tag: string, limit: number): Promise<{ hits: SearchHit[]; total: number; featuresLimited?: boolean; reason?: string; asOf?: number }>;
  freshness(): unknown;
  usage(q: { tag?: string; from?: number; to?: number; limit?: number }): Promise<UsageRow[]>;
  dlqList(opts: { limit?: number; all?: boolean; parked?: boolean; since?: number }): Promise<DeadLetterView[]>;
  dlqPass(opts: PassOptions): Promise<PassResult>;
  reconcile(opts: ReconcileOptions): Promise<ReconcileReport>;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

function int(v: unknown, field: string, min: number, max: number, dflt?: number): number | undefined {
  if (v === undefined || v === '') return dflt;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${field}: must be an integer between ${min} and ${max}`);
  return n;
}

function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === true || v === 'true' || v === '1') return true;
  if (v === false || v === 'false' || v === '0') return false;
  throw badRequest(`${field}: must be true or false`);
}

/** A time: ms since the epoch, an ISO 8601 date, or a duration back from now ('15m', '2h', '1d'). */
export function parseSince(v: unknown, now: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  const s = String(v);
  const d = /^(\d+)(s|m|h|d)$/.exec(s);
  if (d) return now - Number(d[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d+$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw badRequest(`since: "${s.slice(0, 40)}" is not a time (ms, ISO 8601) or a duration like 15m, 2h, 1d`);
  return t;
}

export function registerIndexingRoutes(app: FastifyInstance, d: IndexingRouteDeps, now: () => number): void {
  app.get<{ Querystring: { tag?: string; limit?: string } }>('/v1/search', async (req, reply) => {
    const tag = req.query.tag;
    if (typeof tag !== 'string' || tag === '') throw badRequest('tag: required (?tag=…)');
    if (tag.length > d.limits.maxTagLength || !TAG_RE.test(tag)) throw badRequest(`tag: at most ${d.limits.maxTagLength} letters, digits, space, _ . - (starting with a letter or digit)`);
    const limit = int(req.query.limit, 'limit', 0, 1_000, 20)!;
    const res = await d.search(tag, limit);
    if (res.featuresLimited) reply.header(FEATURES_LIMITED_HEADER, headerValue(res.reason ?? 'degraded'));
    return { tag, total: res.total, hits: res.hits, freshness: d.freshness(), featuresLimited: res.featuresLimited ?? false, ...(res.reason ? { reason: res.reason } : {}), ...(res.asOf !== undefined ? { asOf: new Date(res.asOf).toISOString() } : {}) };
  });

  app.get<{ Querystring: { tag?: string; from?: string; to?: string; limit?: string } }>('/v1/analytics/usage', async (req) => {
    const q = req.query;
    const rows = await d.usage({ ...(q.tag ? { tag: q.tag } : {}), ...(q.from ? { from: parseSince(q.from, now())! } : {}), ...(q.to ? { to: parseSince(q.to, now())! } : {}), limit: int(q.limit, 'limit', 1, 10_000, 1_000)! });
    return { rows: rows.map((r) => ({ ...r, hourIso: new Date(r.hour).toISOString() })) };
  });

  app.register(
    async (admin) => {
      admin.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
        if (m && timingSafeEqual(digest(m[1]!), digest(d.adminToken))) return;
        const err = new TagstreamError(ErrorCodes.UNAUTHORIZED, 'operator action: send "Authorization: Bearer <http.adminToken>" (the tagstream CLI does)');
        return reply.code(401).send({ error: { code: err.code, message: err.message } });
      });
      admin.get<{ Querystring: Record<string, string | undefined> }>('/dlq', async (req) => {
        const q = req.query;
        const since = parseSince(q.since, now());
        const records = await d.dlqList({ limit: int(q.limit, 'limit', 1, 10_000, 100)!, ...(bool(q.all, 'all') ? { all: true } : {}), ...(bool(q.parked, 'parked') ? { parked: true } : {}), ...(since !== undefined ? { since } : {}) });
        return { records };
      });
      admin.post('/dlq/replay', async (req) => {
        const b = bodyFields(req, ['since', 'limit', 'dryRun']);
        const since = parseSince(b.since, now());
        const limit = int(b.limit, 'limit', 1, 1_000_000);
        return d.dlqPass({ action: 'replay', ...(bool(b.dryRun, 'dryRun') ? { dryRun: true } : {}), ...(since !== undefined ? { since } : {}), ...(limit !== undefined ? { limit } : {}) });
      });
      admin.post('/dlq/park', async (req) => {
        const b = bodyFields(req, ['limit', 'dryRun']);
        const limit = int(b.limit, 'limit', 1, 1_000_000);
        return d.dlqPass({ action: 'park', ...(bool(b.dryRun, 'dryRun') ? { dryRun: true } : {}), ...(limit !== undefined ? { limit } : {}) });
      });
      admin.post('/reconcile', async (req) => {
        const b = bodyFields(req, ['shards', 'repair', 'prefix', 'confirmMs', 'sampleLimit']);
        let shards: number[] | undefined;
        if (b.shards !== undefined) {
          if (!Array.isArray(b.shards)) throw badRequest('shards: must be an array of shard numbers');
          shards = b.shards.map((s, i) => int(s, `shards.${i}`, 0, d.shardCount - 1)!);
        }
        if (b.prefix !== undefined && typeof b.prefix !== 'string') throw badRequest('prefix: must be a string');
        const confirmMs = int(b.confirmMs, 'confirmMs', 0, 600_000);
        return d.reconcile({ ...(shards ? { shards } : {}), ...(bool(b.repair, 'repair') ? { repair: true } : {}), ...(typeof b.prefix === 'string' ? { prefix: b.prefix } : {}), ...(confirmMs !== undefined ? { confirmMs } : {}), sampleLimit: int(b.sampleLimit, 'sampleLimit', 0, 10_000, 20)! });
      });
    },
    { prefix: '/v1' },
  );
}
