// The UsageStore contract against the embedded stand-in.
import { MemoryUsageStore } from '../../adapters/analytics/memory-usage-store.ts';
import { usageStoreContract } from './usage-store.contract.ts';

usageStoreContract('MemoryUsageStore', async () => ({
  store: new MemoryUsageStore(),
  unreachable: () => {
    const s = new MemoryUsageStore();
    s.setAvailable(false);
    return s;
  },
  close: async () => undefined,
}));
