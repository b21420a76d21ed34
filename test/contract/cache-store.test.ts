// The CacheStore contract against the embedded MemoryCacheStore, on simulated time.
import { MemoryCacheStore } from '../../adapters/redis/memory-cache-store.ts';
import { SimulatedClock } from '../../lib/clock.ts';
import { cacheStoreContract } from './cache-store.contract.ts';

cacheStoreContract('MemoryCacheStore', async () => {
  const clock = new SimulatedClock(1_700_000_000_000);
  const store = new MemoryCacheStore({ name: 'redis0', clock, commandTimeoutMs: 250 });
  return {
    store,
    advance: async (ms) => clock.increment(ms),
    dispose: () => store.close(),
  };
});
