// A writer backing off from a failed primary retries as soon as the cluster is rerouted, instead of sitting
// out a back-off grown while the primary was down (the tail of the failover time, measured by bench/failover).
import { describe, expect, it } from 'vitest';
import { toPgError } from '../../../adapters/pg/errors.ts';
import type { AssocWrite, ShardStore } from '../../../adapters/pg/port.ts';
import { applyWithRetry } from '../../../actors/shard-writer/apply.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

// As the shard store's boundary raises it (classified there).
const refused = () => toPgError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('applyWithRetry wake', () => {
  it('a topology change cuts the current back-off short; back-offs start over on the new primary', async () => {
    const clock = new SimulatedClock(0);
    let rerouted = false;
    const calls: number[] = [];
    const store = {
      cluster: 'pg0',
      applyBatch: async () => {
        calls.push(clock.now());
        if (!rerouted) throw refused();
        return { changed: 1, versioned: 1, counterDeltas: [], perShard: [], commitLsn: '0/10' };
      },
    } as unknown as ShardStore;
    let topology = new AbortController();
    const done = applyWithRetry([{} as AssocWrite], {
      store,
      clock,
      logger: silentLogger(),
      backoff: { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0 },
      signal: new AbortController().signal,
      wake: () => topology.signal,
    });
    await flush();
    clock.increment(1_000); // first back-off (1 s) → second attempt, then a 2 s back-off
    await flush();
    expect(calls).toEqual([0, 1_000]);
    clock.increment(500);
    rerouted = true;
    topology.abort(); // the monitor promoted a replica and rerouted the store
    topology = new AbortController();
    await flush();
    expect(calls).toEqual([0, 1_000, 1_500]); // at once, not at 3 000
    expect((await done).result?.commitLsn).toBe('0/10');
  });

  it('shutdown still ends the wait with an abort', async () => {
    const clock = new SimulatedClock(0);
    const shutdown = new AbortController();
    const store = { cluster: 'pg0', applyBatch: async () => Promise.reject(refused()) } as unknown as ShardStore;
    const done = applyWithRetry([{} as AssocWrite], { store, clock, logger: silentLogger(), backoff: { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0 }, signal: shutdown.signal, wake: () => new AbortController().signal });
    await flush();
    shutdown.abort();
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
  });
});
