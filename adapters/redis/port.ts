// CacheStore: one cache instance (a Redis server). Real: RedisCacheStore (ioredis, fail-fast settings).
// Embedded: MemoryCacheStore. Every call fails fast (bounded timeout) instead of queueing offline.
import type { CacheFaultHooks } from '../fault-hooks.ts';

export interface CacheStore {
  readonly name: string;
  get(key: string): Promise<string | null>;
  mget(keys: string[]): Promise<Array<string | null>>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(keys: string[]): Promise<number>;
  incr(key: string): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Present on the embedded stand-in only: fault injection (adapters/fault-hooks.ts). */
  readonly faults?: CacheFaultHooks;
}
