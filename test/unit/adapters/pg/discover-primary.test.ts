// A store started after a failover follows the node that accepts writes, not the configured order.
import { describe, expect, it } from 'vitest';
import type { NodeConn, NodeDriver } from '../../../../adapters/pg/node-conn.ts';
import type { NodeProbe } from '../../../../adapters/pg/port.ts';
import { RoutedShardStore } from '../../../../adapters/pg/routed-shard-store.ts';
import { silentLogger } from '../../../../lib/logger.ts';

function store(probes: Record<string, Omit<NodeProbe, 'name'>>): RoutedShardStore {
  const driver: NodeDriver = {
    open: (node) => ({ node, session: () => Promise.reject(new Error('no sessions in this test')), replayLsn: async () => null, replayPoint: async () => ({ lsn: null, timeline: null }), writeTimeline: async () => undefined, close: async () => undefined }) as NodeConn,
    probe: async (node) => ({ name: node, ...probes[node]! }),
    close: async () => undefined,
  };
  return new RoutedShardStore({ cluster: 'pg0', nodes: ['n0', 'n1', 'n2'], driver, logger: silentLogger() });
}

const primary = (timeline: number, extra: Partial<NodeProbe> = {}) => ({ up: true, role: 'primary' as const, timeline, ...extra });
const replica = { up: true, role: 'replica' as const };
const down = { up: false, error: 'connect ECONNREFUSED' };

describe('RoutedShardStore.discoverPrimary', () => {
  it('keeps the configured primary when it is the one that accepts writes', async () => {
    expect(await store({ n0: primary(1), n1: replica, n2: replica }).discoverPrimary()).toEqual({ primary: 'n0', replicas: ['n1', 'n2'], fenced: [] });
  });

  it('follows a replica promoted before this start (the configured first node is dead)', async () => {
    expect(await store({ n0: down, n1: primary(2), n2: replica }).discoverPrimary()).toEqual({ primary: 'n1', replicas: ['n0', 'n2'], fenced: [] });
  });

  it('with two writable nodes (an old primary back, diverged), the newest timeline leads and the other is fenced', async () => {
    expect(await store({ n0: primary(1), n1: replica, n2: primary(3) }).discoverPrimary()).toEqual({ primary: 'n2', replicas: ['n1'], fenced: ['n0'] });
  });

  it('a read-only non-replica (fenced by a failover) is never the primary and stays fenced', async () => {
    expect(await store({ n0: primary(1, { readOnly: true }), n1: primary(2), n2: replica }).discoverPrimary()).toEqual({ primary: 'n1', replicas: ['n2'], fenced: ['n0'] });
  });

  it('when no node accepts writes, keeps the configured topology for the failover monitor', async () => {
    expect(await store({ n0: down, n1: replica, n2: replica }).discoverPrimary()).toEqual({ primary: 'n0', replicas: ['n1', 'n2'], fenced: [] });
  });
});
