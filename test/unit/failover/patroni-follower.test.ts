// Patroni mode on the embedded cluster with a Patroni stand-in (no sockets): the monitor follows the leader
// Patroni names (never promoting itself), fences the old one by sessions only, keeps replicas in step with the
// members Patroni runs (readmitting a rewound old leader), and answers leader confirmations for offset commits.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import type { Topology } from '../../../adapters/pg/port.ts';
import type { ClusterMonitor } from '../../../actors/failover/cluster-monitor.ts';
import { replicasFromView } from '../../../actors/failover/patroni-follower.ts';
import type { PatroniMember, PatroniView } from '../../../actors/failover/patroni.ts';
import { systemClock } from '../../../lib/clock.ts';
import { createTestMonitor, embeddedCluster } from '../../support/cluster-monitor.ts';

const NODES = ['pgp-n0', 'pgp-n1', 'pgp-n2'];
const member = (name: string, role: string, timeline = 1, state = 'running'): PatroniMember => ({ name, role, state, timeline });
const view = (...members: PatroniMember[]): PatroniView => ({ leader: members.find((m) => m.role === 'leader')?.name ?? null, members });

describe('replicasFromView', () => {
  const topo: Topology = { primary: 'pgp-n1', replicas: ['pgp-n2'], fenced: ['pgp-n0'] };
  it('is null when nothing changes, or when the leader is not our primary (that is a leader change)', () => {
    expect(replicasFromView(view(member('pgp-n1', 'leader', 2), member('pgp-n2', 'replica', 2)), NODES, topo)).toBeNull();
    expect(replicasFromView(view(member('pgp-n2', 'leader', 3)), NODES, topo)).toBeNull();
  });
  it('readmits a fenced member only once Patroni runs it as a replica on the leader timeline', () => {
    expect(replicasFromView(view(member('pgp-n1', 'leader', 2), member('pgp-n2', 'replica', 2), member('pgp-n0', 'replica', 1)), NODES, topo)).toBeNull();
    expect(replicasFromView(view(member('pgp-n1', 'leader', 2), member('pgp-n2', 'replica', 2), member('pgp-n0', 'replica', 2, 'starting')), NODES, topo)).toBeNull();
    expect(replicasFromView(view(member('pgp-n1', 'leader', 2), member('pgp-n2', 'replica', 2), member('pgp-n0', 'replica', 2)), NODES, topo)).toEqual({ replicas: ['pgp-n2', 'pgp-n0'], readmit: ['pgp-n0'] });
  });
  it('drops a replica Patroni no longer runs', () => {
    expect(replicasFromView(view(member('pgp-n1', 'leader', 2)), NODES, topo)).toEqual({ replicas: [], readmit: [] });
  });
});

describe('ClusterMonitor in Patroni mode (embedded cluster, Patroni stand-in)', () => {
  let monitor: ClusterMonitor | undefined;
  let store: PgliteShardStore | undefined;
  afterEach(async () => {
    await monitor?.stop();
    await store?.close();
  });

  it('follows the leader, fences the old one by sessions only, readmits it when rewound, confirms leadership', async () => {
    store = await embeddedCluster('pgp', NODES);
    const e = store.embedded;
    let current: PatroniView | null = view(member('pgp-n0', 'leader'), member('pgp-n1', 'replica'), member('pgp-n2', 'replica'));
    const promoted: Topology[] = [];
    monitor = createTestMonitor(store, {
      machine: { probeIntervalMs: 20, probeTimeoutMs: 200, suspectAfterMisses: 2 },
      mode: 'patroni',
      patroniUrls: ['http://patroni.invalid:8008'],
      patroniPollMs: 10,
      fetchPatroniView: async () => current,
      onPromoted: async (t) => {
        promoted.push(t);
        await store!.setTopology(t);
      },
    });
    monitor.start();
    const since = systemClock.now();
    await expect(monitor.confirmLeader(since)).resolves.toBe(true);

    // Only n0's Patroni died: Patroni promoted n1 while n0's postgres still accepts writes (split brain).
    e.promote('pgp-n1');
    current = view(member('pgp-n1', 'leader', 2), member('pgp-n2', 'replica', 2));
    await vi.waitFor(() => expect(monitor!.status().state).toBe('healthy'), { timeout: 5_000, interval: 10 });
    await vi.waitFor(() => expect(store!.topology()).toEqual({ primary: 'pgp-n1', replicas: ['pgp-n2'], fenced: ['pgp-n0'] }), { timeout: 5_000, interval: 10 });
    expect(promoted.map((t) => t.primary)).toEqual(['pgp-n1']);
    expect(monitor.status().lastFailover).toMatchObject({ reason: 'leader-changed', from: 'pgp-n0', to: 'pgp-n1' });
    expect(e.roleOf('pgp-n0')).toBe('primary'); // sessions fence: Patroni owns the node's configuration
    expect(e.connections('pgp-n0')).toBe(0);
    // A confirmation asked about the deposed leader (its writes are not proven) is refused.
    await expect(monitor.confirmLeader(systemClock.now())).resolves.toBe(true); // the store's primary is n1 now
    const snapshotOld = (monitor as unknown as { follower: { confirmLeader(p: string, s: number): Promise<boolean> } }).follower;
    await expect(snapshotOld.confirmLeader('pgp-n0', systemClock.now())).resolves.toBe(false);

    // n0's Patroni comes back, rewinds it and runs it as a replica on timeline 2: reads may use it again.
    e.demote('pgp-n0');
    current = view(member('pgp-n1', 'leader', 2), member('pgp-n2', 'replica', 2), member('pgp-n0', 'replica', 2));
    await vi.waitFor(() => expect(store!.topology()).toEqual({ primary: 'pgp-n1', replicas: ['pgp-n2', 'pgp-n0'], fenced: [] }), { timeout: 5_000, interval: 10 });

    // n1 dies with its Patroni; Patroni elects n0.
    e.killNode('pgp-n1');
    e.promote('pgp-n0');
    current = view(member('pgp-n0', 'leader', 3), member('pgp-n2', 'replica', 3));
    await vi.waitFor(() => expect(store!.topology()).toEqual({ primary: 'pgp-n0', replicas: ['pgp-n2'], fenced: ['pgp-n1'] }), { timeout: 5_000, interval: 10 });
    expect(promoted.map((t) => t.primary)).toEqual(['pgp-n1', 'pgp-n0']);

    // No Patroni API answers: nothing can be confirmed (unproven is not proven), and nothing changes.
    current = null;
    await expect(monitor.confirmLeader(systemClock.now())).resolves.toBe(false);
    expect(store.topology().primary).toBe('pgp-n0');
  }, 30_000);
});
