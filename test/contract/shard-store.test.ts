// The ShardStore contract against the embedded stand-in: one PGlite instance for the whole file (they cost
// ~200 MB and 1–3 s each), a fresh store (client) over it per test.
import { afterAll, beforeAll } from 'vitest';
import { EmbeddedPgCluster } from '../../adapters/pg/embedded-pg-cluster.ts';
import { PgliteShardStore } from '../../adapters/pg/pglite-shard-store.ts';
import { WRITE_TABLES } from '../../adapters/pg/schema.ts';
import { silentLogger } from '../../lib/logger.ts';
import { shardStoreContract, type ShardStoreHarness } from './shard-store.contract.ts';

const nodes: [string, string, string] = ['pg0-n0', 'pg0-n1', 'pg0-n2'];
let embedded: EmbeddedPgCluster;

beforeAll(async () => {
  embedded = await EmbeddedPgCluster.create('pg0', nodes);
}, 60_000);
afterAll(async () => {
  await embedded.close();
});

async function make(): Promise<ShardStoreHarness> {
  for (const n of nodes) {
    embedded.reviveNode(n);
    embedded.releaseReplication(n);
    embedded.demote(n);
  }
  embedded.promote(nodes[0]);
  const store = new PgliteShardStore({ embedded, logger: silentLogger() });
  await store.migrate();
  await embedded.truncate([...WRITE_TABLES]);
  return {
    store,
    nodes,
    pauseReplay: (n) => embedded.holdReplication(n),
    resumeReplay: async (n) => embedded.releaseReplication(n),
    connectionsTo: async (n) => embedded.connections(n),
    eventually: async (check, what) => {
      // Embedded effects are immediate: a few turns of the event loop, never a timer.
      for (let i = 0; i < 5; i++) {
        if (await check()) return;
        await new Promise((r) => setImmediate(r));
      }
      throw new Error(`never happened: ${what}`);
    },
    dispose: () => store.close(),
  };
}

shardStoreContract('PgliteShardStore', make);
