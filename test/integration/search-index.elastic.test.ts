// The SearchIndex contract against Elasticsearch (services/ starts the node; see test/support/global-services.ts).
import { describe, expect, it } from 'vitest';
import { ElasticSearchIndex } from '../../adapters/search/elastic-search-index.ts';
import { classify } from '../../lib/classify.ts';
import { sleep, systemClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/logger.ts';
import { searchIndexContract } from '../contract/search-index.contract.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const config = localConfig();

searchIndexContract('ElasticSearchIndex', async ({ refreshIntervalMs }) => {
  const index = new ElasticSearchIndex({
    node: config.elasticsearch.node,
    index: uniqueName('contract').toLowerCase(),
    refreshIntervalMs,
    replicas: 0,
    logger: createLogger({ level: config.log.level, name: 'contract' }),
  });
  return {
    index,
    eventually: async (pred, what) => {
      const deadline = systemClock.now() + 30_000;
      while (!(await pred())) {
        if (systemClock.now() > deadline) throw new Error(`not reached within 30 s: ${what}`);
        await sleep(systemClock, 50);
      }
    },
    close: () => index.close(),
  };
});

describe('ElasticSearchIndex against an address where no node listens', () => {
  it('fails fast with an error classified retry', async () => {
    const index = new ElasticSearchIndex({ node: 'http://127.0.0.1:1', index: 'nowhere', refreshIntervalMs: 1_000, logger: createLogger({ level: 'silent' }) });
    try {
      for (const call of [() => index.ping(), () => index.bulk([{ id: 'a', version: '1', doc: { entity: 'a', tag: 't', attached: true, shard: 0, at: 0 } }]), () => index.search('t', { limit: 1 })]) {
        const err = await call().then(
          () => null,
          (e: unknown) => e,
        );
        expect(classify(err)).toEqual({ class: 'retry', source: 'es:ConnectionError' });
      }
    } finally {
      await index.close();
    }
  });
});
