// The read routes over a stub read service (no daemon): a saturated bulkhead is the only 5xx a read answers on
// purpose, with Retry-After; other failures go through the shared error handling.
import { describe, expect, it } from 'vitest';
import { BulkheadFullError } from '../../../lib/bulkhead.ts';
import { systemClock } from '../../../lib/clock.ts';
import { defaultLimits } from '../../../lib/command.ts';
import { createMetrics } from '../../../lib/metrics.ts';
import { createHttpServer } from '../../../web/http/server.ts';
import { registerReadRoutes } from '../../../web/http/read-routes.ts';
import type { EntityTagsAnswer, PopularAnswer } from '../../../web/http/read-answers.ts';

const shedPopular = (limit: number): PopularAnswer => ({ limit, tags: [], source: 'none', featuresLimited: true, reason: 'overloaded' });

function app(entityTags: () => Promise<EntityTagsAnswer>, popularTags: () => Promise<PopularAnswer>, maxInFlight = 100) {
  const metrics = createMetrics();
  const a = createHttpServer({ metrics, health: { notReadyReasons: () => [], status: () => ({}) } });
  registerReadRoutes(a, { reads: { entityTags, popularTags, shedPopular }, maxInFlight, tokenSecret: 'x'.repeat(16), shardCount: 8, limits: defaultLimits, popularMaxLimit: 100, metrics, clock: systemClock });
  return a;
}

describe('read routes', () => {
  it('sheds with 503, TS_ERR_BULKHEAD_FULL and Retry-After when the bulkhead is full; an unexpected error is a 500 TS_ERR_INTERNAL with an error id', async () => {
    const a = app(() => Promise.reject(new BulkheadFullError('pg0-reads-critical', 'queue full')), () => Promise.reject(new Error('unexpected')));
    const r = await a.inject({ method: 'GET', url: '/v1/entities/bug-1/tags' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json()).toMatchObject({ error: { code: 'TS_ERR_BULKHEAD_FULL' } });
    const p = await a.inject({ method: 'GET', url: '/v1/tags/popular' });
    expect(p.statusCode).toBe(500);
    expect(p.headers['retry-after']).toBeUndefined();
    expect(p.json()).toMatchObject({ error: { code: 'TS_ERR_INTERNAL', errorId: expect.any(String) } });
  });

  it('marks degraded popular answers with the header and the body, and gives the default limit', async () => {
    let asked = 0;
    const a = app(
      () => Promise.reject(new Error('unused')),
      async () => {
        asked++;
        return { limit: 10, tags: [{ tag: 'x', count: 2 }], source: 'last-known-good', featuresLimited: true, reason: 'database-breaker-open', asOf: 0 };
      },
    );
    const r = await a.inject({ method: 'GET', url: '/v1/tags/popular' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-tagstream-features-limited']).toBe('database-breaker-open');
    expect(r.headers['x-tagstream-source']).toBe('last-known-good');
    expect(r.json()).toMatchObject({ featuresLimited: true, asOf: '1970-01-01T00:00:00.000Z' });
    expect(asked).toBe(1);
  });

  it('past maxInFlight reads are shed at once: entity tags 503 + Retry-After, popular tags "features limited" (overloaded)', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const answer: EntityTagsAnswer = { entity: 'bug-1', shard: 0, tags: [], source: 'replica', servedBy: 'n1', consistency: 'none' };
    const a = app(async () => (await held, answer), () => Promise.reject(new Error('not reached')), 1);
    const first = a.inject({ method: 'GET', url: '/v1/entities/bug-1/tags' });
    await new Promise((r) => setImmediate(r));
    const second = await a.inject({ method: 'GET', url: '/v1/entities/bug-2/tags' });
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json()).toMatchObject({ error: { code: 'TS_ERR_BULKHEAD_FULL' } });
    const popular = await a.inject({ method: 'GET', url: '/v1/tags/popular' });
    expect(popular.statusCode).toBe(200);
    expect(popular.headers['x-tagstream-features-limited']).toBe('overloaded');
    release();
    expect((await first).statusCode).toBe(200);
    expect((await a.inject({ method: 'GET', url: '/v1/entities/bug-3/tags' })).statusCode).toBe(200);
  });
});
