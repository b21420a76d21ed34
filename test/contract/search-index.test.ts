// The SearchIndex contract against the embedded stand-in, on simulated time.
import { MemorySearchIndex } from '../../adapters/search/memory-search-index.ts';
import { SimulatedClock } from '../../lib/clock.ts';
import { searchIndexContract } from './search-index.contract.ts';

searchIndexContract('MemorySearchIndex', async ({ refreshIntervalMs }) => {
  const clock = new SimulatedClock(1_700_000_000_000);
  const index = new MemorySearchIndex({ clock, refreshIntervalMs });
  return {
    index,
    eventually: async (pred, what) => {
      for (let step = 0; step < 1_000; step++) {
        if (await pred()) return;
        clock.increment(50);
      }
      throw new Error(`not reached on simulated time: ${what}`);
    },
    close: () => index.close(),
  };
});
