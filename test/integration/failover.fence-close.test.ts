// Fencing a hung primary (SIGSTOP) must not wait for our sessions stuck on it: their sockets are dropped, so
// the reroute completes at once and, when the node thaws, nothing of a half-sent transaction can commit there.
import { afterAll, describe, expect, it } from 'vitest';
import { createShardStores } from '../../adapters/pg/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { countRows } from '../support/pg-faults.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const config = localConfig({ postgres: { statementTimeoutMs: 30_000 }, failover: { probeTimeoutMs: 1_000 } });
const primary = { cluster: 0, node: 0 };

afterAll(async () => {
  services.contNode(config, primary);
  await services.resetCluster(config, 0);
}, 120_000);

describe('fencing a frozen primary', () => {
  it('drops our sessions stuck on it: the new topology is in place at once and the stuck write never lands', async () => {
    await services.resetCluster(config, 0);
    const stores = await createShardStores(config, silentLogger());
    const store = stores.get('pg0')!;
    try {
      await store.migrate();
      const prefix = `${uniqueName('fence')}-`;
      await store.applyBatch([{ shard: 0, entity: `${prefix}warm`, tag: 't', attached: true, partition: 0, offset: '1', at: Date.now() }]);
      services.stopNode(config, primary);
      const stuck = store.applyBatch([{ shard: 0, entity: `${prefix}stuck`, tag: 't', attached: true, partition: 0, offset: '2', at: Date.now() }]);
      const failed = stuck.then(() => 'committed', (e: unknown) => (e as Error).message);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      await store.setTopology({ primary: 'pg0-n1', replicas: ['pg0-n2'], fenced: ['pg0-n0'] });
      const ms = Date.now() - t0;
      expect(ms).toBeLessThan(5_000); // not the 30 s statement timeout
      expect(await failed).not.toBe('committed');
      services.contNode(config, primary);
      await new Promise((r) => setTimeout(r, 500));
      expect(await countRows(services.pgNodeInfo(config, primary).port, `${prefix}stuck`)).toBe(0);
    } finally {
      services.contNode(config, primary);
      for (const s of stores.values()) await s.close();
    }
  }, 120_000);
});
