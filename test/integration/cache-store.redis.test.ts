// The CacheStore contract against a real Redis (instance redis1 of services/), plus the fail-fast behaviour
// only a real server can show: a frozen (SIGSTOPped) server and a killed one.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
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

/** The call's rejection (null if it resolved). */
function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}
/** Failing fast means refused, not timed out: the error says which, so no stopwatch is needed. */
const timedOut = (err: unknown) => /timed out/i.test(String((err as Error | null)?.message));

beforeAll(async () => {
  if (redisState(config, INSTANCE) === 'frozen') contRedis(config, INSTANCE);
  if (redisState(config, INSTANCE) === 'down') await startRedis(config, INSTANCE);
});

cacheStoreContract('RedisCacheStore (real Redis)', async () => {
  const store = makeStore();
  await store.ready(5_000);
  return {
    store,
    advance: (ms) => sleep(systemClock, ms), // a real Redis expires keys on its own clock: the contract's TTLs need real time
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
      // The server never answers: only the command timeout can end the call (without one it would hang).
      const err = await failure(store.get('anything'));
      expect(err).toMatchObject({ message: 'Command timed out' });
      expect(classify(err).class).toBe('retry');
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
      // The connection drops; from then on every call is refused without waiting (no offline queue): refused,
      // not timed out.
      await vi.waitFor(async () => expect(await failure(store.get('anything'))).not.toBeNull(), { timeout: 10_000, interval: 20 });
      for (const call of [() => store.get('a'), () => store.incr('a'), () => store.set('a', 'b', 10), () => store.ping()]) {
        const err = await failure(call());
        expect(err).not.toBeNull();
        expect(classify(err).class).toBe('retry');
        expect(timedOut(err), String(err)).toBe(false);
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
      const err = await failure(store.get('x'));
      expect(err).not.toBeNull();
      expect(classify(err).class).toBe('retry');
      expect(timedOut(err), String(err)).toBe(false);
      const notReady = await failure(store.ready(300));
      expect(classify(notReady).class).toBe('retry');
    } finally {
      await store.close();
    }
  });
});
