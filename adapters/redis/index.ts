// createCacheStores: one CacheStore per configured Redis instance, real or embedded by profile. Real stores
// start connecting at once and keep reconnecting in the background; a Redis that is down at start is the
// breakers' business, not a reason to refuse to start.
import type { Config } from '../../config/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { MemoryCacheStore } from './memory-cache-store.ts';
import type { CacheStore } from './port.ts';
import { RedisCacheStore } from './redis-cache-store.ts';

export type { CacheStore } from './port.ts';
export { MemoryCacheStore, ReplyError } from './memory-cache-store.ts';
export { RedisCacheStore, reconnectDelay } from './redis-cache-store.ts';

export function createCacheStores(config: Readonly<Config>, logger: Logger, clock: Clock): Map<string, CacheStore> {
  const stores = new Map<string, CacheStore>();
  for (const i of config.redis.instances) {
    if (config.profile === 'embedded') {
      stores.set(i.name, new MemoryCacheStore({ name: i.name, clock, commandTimeoutMs: config.redis.commandTimeoutMs }));
    } else {
      const store = new RedisCacheStore({ name: i.name, host: i.host, port: i.port, commandTimeoutMs: config.redis.commandTimeoutMs, logger: logger.child({ cache: i.name }), clock });
      store.start();
      stores.set(i.name, store);
    }
  }
  return stores;
}
