// Search degrades, it does not fail (contract 7): with the index down, /v1/search answers 200 with the last
// known good hits for the query and an explicit features-limited marker; when the index is back, fresh hits.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MemorySearchIndex } from '../../../adapters/search/memory-search-index.ts';
import { loadConfig } from '../../../config/index.ts';
import { startDaemon, type Daemon } from '../../../daemon.ts';
import { indexingFeature } from '../../../features/indexing/index.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { FEATURES_LIMITED_HEADER } from '../../../web/http/read-routes.ts';
import { indexingKey } from '../../../features/keys.ts';

const config = loadConfig({ env: {}, overrides: { http: { port: 0 }, shards: { count: 4 }, kafka: { partitions: 2 }, elasticsearch: { refreshIntervalMs: 50 }, breaker: { minimumCalls: 2, windowSize: 4, openMs: 60_000, openMaxMs: 60_000 } } });
let d: Daemon;

beforeAll(async () => {
  d = await startDaemon(config, { listen: false, logger: silentLogger(), features: [indexingFeature] });
}, 60_000);
afterAll(async () => d?.stop());

describe('GET /v1/search while the index is down', () => {
  it('answers 200 with stale hits and the features-limited marker, never a 5xx', async () => {
    await d.app.inject({ method: 'POST', url: '/v1/entities/bug-7/tags/Critical?wait=applied' });
    await vi.waitFor(async () => {
      const r = await d.app.inject({ method: 'GET', url: '/v1/search?tag=Critical' });
      expect(r.json().hits).toEqual([{ entity: 'bug-7', tag: 'Critical' }]);
    }, { timeout: 20_000, interval: 50 });

    const index = d.context.adapters.search as MemorySearchIndex;
    index.setAvailable(false);
    for (let i = 0; i < 6; i++) {
      const r = await d.app.inject({ method: 'GET', url: '/v1/search?tag=Critical' });
      expect(r.statusCode).toBe(200);
      expect(r.headers[FEATURES_LIMITED_HEADER]).toBeTruthy();
      expect(r.json()).toMatchObject({ featuresLimited: true, hits: [{ entity: 'bug-7', tag: 'Critical' }] });
    }
    // A query never answered before degrades to an explicit empty answer.
    const unknown = await d.app.inject({ method: 'GET', url: '/v1/search?tag=never-seen' });
    expect(unknown.statusCode).toBe(200);
    expect(unknown.json()).toMatchObject({ featuresLimited: true, hits: [] });

    index.setAvailable(true);
    const breakers = d.context.features.api(indexingKey)!.breakers;
    breakers.force('search-reads', 'auto');
    const back = await d.app.inject({ method: 'GET', url: '/v1/search?tag=Critical' });
    expect(back.statusCode).toBe(200);
    expect(back.json()).toMatchObject({ featuresLimited: false });
    expect(back.headers[FEATURES_LIMITED_HEADER]).toBeUndefined();
  }, 60_000);
});
