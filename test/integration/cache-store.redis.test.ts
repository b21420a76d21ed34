// The CacheStore contract against a real Redis (instance redis1 of services/), plus the fail-fast behaviour
// only a real server can show: a frozen (SIGSTOPped) server and a killed one.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisCacheStore } from '../../adapters/redis/redis-cache-store.ts';
import { classify } from '../../lib/classify.ts';
import { sleep, systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { contRedis, killRedis, redisState, startRedis, stopRedis } from '../../services/index.ts';
import { cacheStoreContract } from '../contract/cache-store.contract.ts';
import { localConfig } from '../support/local.ts';

const config = localConfig();
const INSTANCE = 1;
const instance = config.redis.instances[INSTANCE]!;
const TIMEOUT_MS = 250;

function makeStore(port = instance.port): RedisCacheStore {
  return new RedisCacheStore({ name: instance.name, host: instance.host, port, commandTimeoutMs: TIMEOUT_MS, maxReconnectDelayMs: 200, logger: silentLogger() });
}

async function failure(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = systemClock.now();
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  return { err, ms: systemClock.now() - t0 };
}

beforeAll(async () => {
  if (redisState(config, INSTANCE) === 'frozen') contRedis(config, INSTANCE);
  if (redisState(config, INSTANCE) === 'down') await startRedis(config, INSTANCE);
});

cacheStoreContract('RedisCacheStore (real Redis)', async () => {
  const store = makeStore();
  await store.ready(5_000);
  return {
    store,
    advance: (ms) => sleep(systemClock, ms),
    dispose: () => store.close(),
  };
});

describe('RedisCacheStore fails fast', () => {
  let broken: 'frozen' | 'killed' | undefined;
  afterEach(async () => {
    if (broken === 'frozen') contRedis(config, INSTANCE);
    if (broken === 'killed') await startRedis(config, INSTANCE);
    broken = undefined;
  });

  it('a GET against a frozen (SIGSTOPped) server rejects within the command timeout, as retry', async () => {
    const store = makeStore();
    try {
      await store.ready(5_000);
      stopRedis(config, INSTANCE);
      broken = 'frozen';
      const { err, ms } = await failure(store.get('anything'));
      expect(err).toMatchObject({ message: 'Command timed out' });
      expect(classify(err).class).toBe('retry');
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
      expect(ms).toBeLessThan(TIMEOUT_MS + 1_000);
      contRedis(config, INSTANCE);
      broken = undefined;
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('calls against a killed server fail at once (no offline queue), as retry; it recovers when the server returns', async () => {
    const store = makeStore();
    try {
      await store.ready(5_000);
      await killRedis(config, INSTANCE);
      broken = 'killed';
      // The connection drops; from then on every call is refused without waiting.
      let last: { err: unknown; ms: number } | undefined;
      const deadline = systemClock.now() + 2_000;
      do {
        last = await failure(store.get('anything'));
      } while (last.err === null && systemClock.now() < deadline);
      expect(last.err).not.toBeNull();
      expect(classify(last.err).class).toBe('retry');
      for (const call of [() => store.get('a'), () => store.incr('a'), () => store.set('a', 'b', 10), () => store.ping()]) {
        const { err, ms } = await failure(call());
        expect(classify(err).class).toBe('retry');
        expect(ms).toBeLessThan(100);
      }
      await startRedis(config, INSTANCE);
      broken = undefined;
      await store.ready(5_000); // reconnects by itself (capped backoff)
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('a store whose server is not there at all fails fast and classifies as retry', async () => {
    const store = makeStore(1); // nothing listens on port 1
    try {
      store.start();
      const { err, ms } = await failure(store.get('x'));
      expect(classify(err).class).toBe('retry');
      expect(ms).toBeLessThan(100);
      const notReady = await failure(store.ready(300));
      expect(classify(notReady.err).class).toBe('retry');
    } finally {
      await store.close();
    }
  });
});
