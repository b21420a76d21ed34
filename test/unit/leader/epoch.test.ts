// Topology epochs recorded on the primary itself (issue 14 item 3): the pure numbering, the row's parsing, and
// a monitor that leads: its promotion's epoch lands on the promoted node, and a monitor that starts numbers its
// first decision above the epoch recorded on the primary even when the control log has none (a lost topic).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedClusterControl } from '../../../adapters/pg/embedded-cluster-control.ts';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import type { Topology } from '../../../adapters/pg/port.ts';
import { parseEpochRow, recordParams, RECORD_EPOCH_SQL } from '../../../adapters/pg/topology-epoch.ts';
import type { ClusterMonitor } from '../../../actors/failover/cluster-monitor.ts';
import { nextEpoch, startingEpoch } from '../../../actors/leader/epoch.ts';
import type { Leader } from '../../../actors/leader/leader.ts';
import { embeddedCluster, recordSteps, reportUpstreams, startLeadingMonitor } from '../../support/cluster-monitor.ts';

describe('epoch numbering', () => {
  it('starts from the higher of the control log and the primary, and the next decision is above everything seen', () => {
    expect(startingEpoch(null, null)).toBe(0);
    expect(startingEpoch(4, null)).toBe(4);
    expect(startingEpoch(undefined, 9)).toBe(9);
    expect(startingEpoch(12, 9)).toBe(12);
    expect(nextEpoch(0, null, null)).toBe(1);
    expect(nextEpoch(3, 5, 2)).toBe(6);
    expect(nextEpoch(3, 2, 8)).toBe(9);
    expect(nextEpoch(7, undefined, Number.NaN)).toBe(8);
  });

  it('reads the recorded row (bigint epoch and ms as text) and never lowers it when recording', () => {
    expect(parseEpochRow(undefined)).toBeNull();
    expect(parseEpochRow({ cluster: 'pg0', epoch: '42', daemon_id: 'h-1-a', term: 3, decision: 'promote', at: '1700000000123' })).toEqual({ cluster: 'pg0', epoch: 42, daemonId: 'h-1-a', term: 3, decision: 'promote', at: 1_700_000_000_123 });
    expect(recordParams({ cluster: 'pg0', epoch: 5, daemonId: 'd', term: 2, decision: 'fence', at: 10 })).toEqual(['pg0', 5, 'd', 2, 'fence', 10]);
    expect(RECORD_EPOCH_SQL).toMatch(/WHERE tagstream_topology_epoch\.epoch < EXCLUDED\.epoch/);
  });
});

describe('a leading monitor and the epoch on the primary', () => {
  const NODES = ['pge-n0', 'pge-n1', 'pge-n2'];
  let monitor: ClusterMonitor | undefined;
  let store: PgliteShardStore | undefined;
  let leader: Leader | undefined;
  afterEach(async () => {
    await monitor?.stop();
    await leader?.stop();
    await store?.close();
  });

  /** This daemon leads (an in-memory election) and its monitor of `s` acts on `control`. */
  async function lead(s: PgliteShardStore, control: EmbeddedClusterControl, onPromoted?: (t: Topology) => Promise<void>): Promise<void> {
    ({ monitor, leader } = await startLeadingMonitor(s, control, onPromoted ? { onPromoted } : {}));
  }

  it('cascades a replica that still streams from the old primary (lost to this daemon only) from the candidate before promoting it, and records the promotion on it, numbered above the old primary\'s epoch', async () => {
    store = await embeddedCluster('pge', NODES);
    const s = store;
    const control = new EmbeddedClusterControl(s.embedded);
    // The order of the control plane's steps (a partition needs the others cascaded from the candidate first).
    const calls: string[] = [];
    // A one-sided partition, as the other replicas see it: they stream from pge-n0 until repointed — at an address
    // this daemon does not use for it (it reaches pge-n0 through another path), so it cannot name their upstream.
    // (The failover steps probe on the store's sessions.)
    const upstream = new Map<string, string>();
    reportUpstreams(s, upstream, null);
    recordSteps(control, calls, { onRepoint: (r, p) => void upstream.set(r, p) });
    // A decision of an earlier deployment whose control topic is gone: only the primary remembers epoch 41.
    await control.recordEpoch('pge-n0', { cluster: 'pge', epoch: 41, daemonId: 'gone', term: 7, decision: 'promote', at: 1 });
    await lead(s, control);
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true, recorded: 41 }), { timeout: 5_000, interval: 10 });

    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pge-n0' }), { timeout: 10_000, interval: 20 });
    const promoted = s.topology().primary;
    const other = NODES.find((n) => n !== promoted && n !== 'pge-n0')!;
    expect(calls.slice(0, 2)).toEqual([`repoint ${other}->${promoted}`, `promote ${promoted}`]);
    const promote = leader!.control.latest('pge')!;
    expect(promote.epoch).toBeGreaterThan(41);
    // Recorded in the background, each decision on the primary it names: the promoted node ends with the latest.
    await vi.waitFor(async () => {
      const latest = leader!.control.latest('pge')!.epoch;
      expect(await control.readEpoch(promoted)).toMatchObject({ cluster: 'pge', daemonId: 'me', epoch: latest });
      expect(monitor!.status().leadership!.recorded).toBe(latest);
    }, { timeout: 5_000, interval: 10 });
    expect(await control.readEpoch('pge-n0')).toMatchObject({ epoch: 41 }); // dead: nothing written there
  }, 90_000); // PGlite's three nodes take 20 s to start on a loaded 2-core machine

  it('a promotion reroutes this daemon at once; its decision is published meanwhile, and the next step waits for it', async () => {
    store = await embeddedCluster('pge', NODES);
    const s = store;
    const control = new EmbeddedClusterControl(s.embedded);
    const calls: string[] = [];
    recordSteps(control, calls, { promote: false });
    let rerouted: Topology | null = null;
    await lead(s, control, async (t) => {
      rerouted = t;
      calls.push(`rerouted to ${t.primary}`);
      await s.setTopology(t);
    });
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true }), { timeout: 5_000, interval: 10 });
    // The control log's produce (acks=all) hangs until released.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const publishEpoch = leader!.control.publishEpoch.bind(leader!.control);
    Object.assign(leader!.control, {
      publishEpoch: async (rec: Parameters<typeof publishEpoch>[0]) => {
        calls.push(`publish ${rec.decision}`);
        if (rec.decision === 'promote') await released;
        await publishEpoch(rec);
      },
    });
    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(rerouted).not.toBeNull(), { timeout: 10_000, interval: 20 });
    const promoted = rerouted!.primary;
    expect(calls).toEqual(['publish promote', `rerouted to ${promoted}`]);
    expect(leader!.control.latest('pge')).toBeNull();
    release();
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pge-n0', to: promoted }), { timeout: 10_000, interval: 20 });
    const other = NODES.find((n) => n !== promoted && n !== 'pge-n0')!;
    expect(calls.slice(0, 4)).toEqual(['publish promote', `rerouted to ${promoted}`, `repoint ${other}->${promoted}`, 'publish repoint']);
    expect(leader!.control.latest('pge')?.epoch).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it('a leader that lost its lease between the act and its publication (paused) publishes nothing it decided before', async () => {
    store = await embeddedCluster('pge', NODES);
    const s = store;
    const control = new EmbeddedClusterControl(s.embedded);
    let paused = false;
    const promoteNode = control.promote.bind(control);
    Object.assign(control, {
      promote: async (n: string) => {
        await promoteNode(n);
        paused = true; // SIGSTOP right after pg_promote: it wakes with its lease lapsed
      },
    });
    await lead(s, control);
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true }), { timeout: 5_000, interval: 10 });
    const isLeader = leader!.isLeader.bind(leader!);
    Object.assign(leader!, { isLeader: () => !paused && isLeader() });
    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(paused).toBe(true), { timeout: 10_000, interval: 20 });
    await vi.waitFor(() => expect(s.topology().primary).not.toBe('pge-n0'), { timeout: 10_000, interval: 20 });
    expect(leader!.control.latest('pge')).toBeNull(); // the promotion is on the nodes, not published by this daemon
  }, 90_000);
});
