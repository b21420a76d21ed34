// GET /v1/search when the index is down: the degraded answer's reason quotes Elasticsearch's error, which may hold
// characters an HTTP header cannot carry. Seen in the 30-minute drill as 7 search 500s: the answer must stay a 200.
import { describe, expect, it } from 'vitest';
import { registerIndexingRoutes, type IndexingRouteDeps } from '../../../features/indexing/routes.ts';
import { defaultLimits } from '../../../lib/command.ts';
import { createMetrics } from '../../../lib/metrics.ts';
import { headerValue } from '../../../web/http/read-routes.ts';
import { createHttpServer } from '../../../web/http/server.ts';

function app(reason: string) {
  const a = createHttpServer({ metrics: createMetrics(), health: { notReadyReasons: () => [], status: () => ({}) } });
  const unused = () => Promise.reject(new Error('unused'));
  const deps = {
    adminToken: 'x'.repeat(16),
    limits: defaultLimits,
    shardCount: 8,
    search: async () => ({ hits: [], total: 0, featuresLimited: true, reason, asOf: 0 }),
    freshness: () => ({}),
    usage: unused,
    dlqList: unused,
    dlqPass: unused,
    reconcile: unused,
  } as unknown as IndexingRouteDeps;
  registerIndexingRoutes(a, deps, () => 0);
  return a;
}

describe('GET /v1/search, degraded', () => {
  it('answers 200 with an ASCII one-line header and the whole reason in the body', async () => {
    const reason = 'search index unavailable: “connect ECONNREFUSED 127.0.0.1:9200” — retrying…\nConnectionError';
    const r = await app(reason).inject({ method: 'GET', url: '/v1/search?tag=bug' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-tagstream-features-limited']).toBe('search index unavailable: "connect ECONNREFUSED 127.0.0.1:9200" - retrying... ConnectionError');
    expect(r.json()).toMatchObject({ featuresLimited: true, reason });
  });

  it('headerValue keeps header values short and never empty', () => {
    expect(headerValue('x'.repeat(500))).toHaveLength(200);
    expect(headerValue('\n\t ')).toBe('degraded');
    expect(headerValue('日本')).toBe('??');
  });
});
