// A probe round that began while a node was still fenced reports it "down" (fenced nodes are not probed). If
// its answer lands after the node was adopted as a replica, it must not mark the freshly adopted node down:
// a switchover to it right after the re-seed (as an operator, or the switchover chaos test, does) would be
// refused with "no replica can take over" until the next round.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import type { NodeProbe } from '../../../adapters/pg/port.ts';
import type { ClusterMonitor } from '../../../actors/failover/cluster-monitor.ts';
import { createTestMonitor, embeddedCluster } from '../../support/cluster-monitor.ts';

const NODES = ['pgr-n0', 'pgr-n1', 'pgr-n2'];

describe('ClusterMonitor: a probe answer older than an adoption', () => {
  let monitor: ClusterMonitor | undefined;
  let store: PgliteShardStore | undefined;
  afterEach(async () => {
    await monitor?.stop();
    await store?.close();
  });

  it('does not mark the adopted node down: a switchover to it right away goes ahead', async () => {
    store = await embeddedCluster('pgr', NODES);
    const s = store;
    const e = s.embedded;
    // A gate on the store's probes: while closed, a round's answer is computed, then held back.
    let gate: { open: Promise<void>; release: () => void; held: number } | null = null;
    const probe = s.probe.bind(s);
    s.probe = async (): Promise<NodeProbe[]> => {
      const g = gate;
      const answer = await probe();
      if (g) {
        g.held++;
        await g.open;
      }
      return answer;
    };
    monitor = createTestMonitor(s, { machine: { probeIntervalMs: 200, probeTimeoutMs: 500, suspectAfterMisses: 3 } });
    monitor.start();
    expect(await monitor.switchover({ target: 'pgr-n1' })).toEqual({ cluster: 'pgr', from: 'pgr-n0', to: 'pgr-n1' });
    expect(s.topology().fenced).toEqual(['pgr-n0']);

    // A round starts while n0 is fenced, and its answer is held back.
    let release: () => void = () => undefined;
    const open = new Promise<void>((r) => (release = r));
    const g = { open, release, held: 0 };
    gate = g;
    await vi.waitFor(() => expect(g.held).toBe(1), { timeout: 5_000, interval: 5 });
    gate = null;

    // n0 is re-seeded (a replica of n1 now) and adopted; then the old answer lands.
    await monitor.adopt('pgr-n0');
    expect(s.topology()).toEqual({ primary: 'pgr-n1', replicas: ['pgr-n2', 'pgr-n0'], fenced: [] });
    g.release();
    await new Promise((r) => setImmediate(r));

    expect(await monitor.switchover({ target: 'pgr-n0' })).toEqual({ cluster: 'pgr', from: 'pgr-n1', to: 'pgr-n0' });

    // The monitor still watches: the new primary dies, a replica takes over.
    e.killNode('pgr-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pgr-n0' }), { timeout: 10_000, interval: 20 });
    expect(['pgr-n1', 'pgr-n2']).toContain(s.topology().primary);
  }, 30_000);
});
