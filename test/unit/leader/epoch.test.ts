// Topology epochs recorded on the primary itself (issue 14 item 3): the pure numbering, the row's parsing, and
// a monitor that leads: its promotion's epoch lands on the promoted node, and a monitor that starts numbers its
// first decision above the epoch recorded on the primary even when the control log has none (a lost topic).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import { MemoryLeaderElection } from '../../../adapters/kafka/memory-leader-election.ts';
import { EmbeddedClusterControl } from '../../../adapters/pg/embedded-cluster-control.ts';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import type { Topology } from '../../../adapters/pg/port.ts';
import { parseEpochRow, recordParams, RECORD_EPOCH_SQL } from '../../../adapters/pg/topology-epoch.ts';
import type { ClusterMonitor } from '../../../actors/failover/cluster-monitor.ts';
import { ControlLog } from '../../../actors/leader/control-log.ts';
import { nextEpoch, startingEpoch } from '../../../actors/leader/epoch.ts';
import { Leader } from '../../../actors/leader/leader.ts';
import { systemClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { createTestMonitor, embeddedCluster, recordSteps, reportUpstreams } from '../../support/cluster-monitor.ts';

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
  async function lead(s: PgliteShardStore, control: EmbeddedClusterControl, onPromoted: (t: Topology) => Promise<void> = async (t) => s.setTopology(t)): Promise<void> {
    leader = new Leader({ election: new MemoryLeaderElection('ctl', { clock: systemClock, daemonId: 'me' }), control: new ControlLog(new MemoryCommandLog(), 'ctl', { clock: systemClock, groupId: 'ctl-me' }), clock: systemClock, logger: silentLogger(), url: () => null });
    await leader.start();
    await leader.join();
    monitor = createTestMonitor(s, { control, leader, onPromoted, machine: { probeIntervalMs: 50, probeTimeoutMs: 200, suspectAfterMisses: 2 } });
    monitor.start();
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

  it('the candidate catches up with everything a cascaded replica had received before its repoint, not only with what its restarted WAL receiver reports after it', async () => {
    store = await embeddedCluster('pge', NODES);
    const s = store;
    const control = new EmbeddedClusterControl(s.embedded);
    const calls: string[] = [];
    const upstream = new Map<string, string>();
    reportUpstreams(s, upstream, null);
    recordSteps(control, calls, { onRepoint: (r, p) => void upstream.set(r, p) });
    // pge-n1 is the most caught-up replica when elected; then pge-n2 receives more from pge-n0 (still writable
    // for the other daemons). Its repoint restarts its WAL receiver, which reports a lower receive position (the
    // segment it asks for), and pge-n1 receives the rest slowly (it still streams from pge-n0).
    let prepared = false;
    let candidateAt = 0x4000000;
    let promotedAt: number | null = null;
    const hex = (n: number): string => `0/${n.toString(16).toUpperCase()}`;
    const probeNode = s.probeNode.bind(s);
    Object.assign(s, {
      probeNode: async (n: string) => {
        const p = await probeNode(n);
        if (!p.up || p.role !== 'replica') return p;
        if (n === 'pge-n1') {
          if (prepared) candidateAt += 0x100000;
          return { ...p, receiveLsn: hex(candidateAt), replayLsn: hex(candidateAt) };
        }
        if (!prepared) return { ...p, receiveLsn: hex(0x3000000), replayLsn: hex(0x3000000) };
        return upstream.get(n) === 'pge-n1' ? { ...p, receiveLsn: hex(0x3000000), replayLsn: hex(0x4800000) } : { ...p, receiveLsn: hex(0x5000000), replayLsn: hex(0x4800000) };
      },
    });
    Object.assign(control, { prepare: () => void (prepared = true) });
    const promote = control.promote.bind(control);
    Object.assign(control, { promote: async (n: string) => ((promotedAt = candidateAt), promote(n)) });
    await lead(s, control);
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true }), { timeout: 5_000, interval: 10 });
    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pge-n0', to: 'pge-n1' }), { timeout: 10_000, interval: 20 });
    expect(calls.slice(0, 2)).toEqual(['repoint pge-n2->pge-n1', 'promote pge-n1']);
    expect(promotedAt).toBeGreaterThanOrEqual(0x5000000);
  }, 90_000);

  it('a replica that streams from the old primary and cannot be repointed keeps the candidate from being promoted: the next candidate, made safe, is', async () => {
    store = await embeddedCluster('pge', NODES);
    const s = store;
    const control = new EmbeddedClusterControl(s.embedded);
    const calls: string[] = [];
    const upstream = new Map<string, string>();
    reportUpstreams(s, upstream, null);
    recordSteps(control, calls, { onRepoint: (r, p) => void upstream.set(r, p) });
    // pge-n2's repoint fails (a session past its timeout on a loaded machine): it goes on streaming from pge-n0,
    // still writable for the other daemons, and would prove their writes there after pge-n1's promotion.
    const repoint = control.repoint.bind(control) as (replica: string, primary: string) => Promise<void>; // recordSteps' own
    Object.assign(control, {
      repoint: async (r: string, p: string) => {
        if (r === 'pge-n2') {
          calls.push(`failed repoint ${r}->${p}`);
          throw new Error('timeout exceeded when trying to connect');
        }
        await repoint(r, p);
      },
    });
    await lead(s, control);
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true }), { timeout: 5_000, interval: 10 });
    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pge-n0', to: 'pge-n2' }), { timeout: 15_000, interval: 20 });
    expect(calls.slice(0, 3)).toEqual(['failed repoint pge-n2->pge-n1', 'repoint pge-n1->pge-n2', 'promote pge-n2']);
    expect(calls).not.toContain('promote pge-n1');
  }, 90_000);

  it('a candidate that cannot catch up with a cascaded replica is not promoted: the replica is pointed back, and the next candidate is', async () => {
    store = await embeddedCluster('pge', NODES);
    const s = store;
    const control = new EmbeddedClusterControl(s.embedded);
    const calls: string[] = [];
    const upstream = new Map<string, string>();
    reportUpstreams(s, upstream, null);
    recordSteps(control, calls, { onRepoint: (r, p) => void upstream.set(r, p) });
    // pge-n1 is ahead when elected; then pge-n2 receives more from pge-n0, which pge-n1 never gets (pge-n0 froze
    // for it): promoting pge-n1 would lose WAL pge-n2 may have proven replication with.
    let prepared = false;
    const hex = (n: number): string => `0/${n.toString(16).toUpperCase()}`;
    const probeNode = s.probeNode.bind(s);
    Object.assign(s, {
      probeNode: async (n: string) => {
        const p = await probeNode(n);
        if (!p.up || p.role !== 'replica') return p;
        const at = n === 'pge-n1' ? 0x4000000 : prepared ? 0x5000000 : 0x3000000;
        return { ...p, receiveLsn: hex(at), replayLsn: hex(at) };
      },
    });
    Object.assign(control, { prepare: () => void (prepared = true) });
    await lead(s, control);
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true }), { timeout: 5_000, interval: 10 });
    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pge-n0', to: 'pge-n2' }), { timeout: 15_000, interval: 20 });
    expect(calls.slice(0, 4)).toEqual(['repoint pge-n2->pge-n1', 'repoint pge-n2->pge-n0', 'repoint pge-n1->pge-n2', 'promote pge-n2']);
    expect(calls).not.toContain('promote pge-n1');
  }, 90_000);

  it('the old primary answering writable after the cascade abandons the failover: nothing promoted, the cascaded replica is pointed back at its upstream', async () => {
    store = await embeddedCluster('pge', NODES);
    const s = store;
    const control = new EmbeddedClusterControl(s.embedded);
    const calls: string[] = [];
    const upstream = new Map<string, string>();
    // The others stream from pge-n0 until repointed; pge-n0 itself answers (writable) once anything was repointed:
    // it was only paused, and resumed while the leader cascaded.
    reportUpstreams(s, upstream, 'pge-n0');
    const probeNode = s.probeNode.bind(s);
    Object.assign(s, {
      probeNode: async (n: string) => {
        if (n !== 'pge-n0') return probeNode(n);
        return calls.length > 0 ? { name: n, up: true, role: 'primary', readOnly: false } : { name: n, up: false, error: 'timeout exceeded when trying to connect' };
      },
    });
    Object.assign(control, {
      repoint: async (r: string, p: string) => void (calls.push(`repoint ${r}->${p}`), upstream.set(r, p)),
      promote: async (n: string) => void calls.push(`promote ${n}`),
    });
    await lead(s, control);
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true }), { timeout: 5_000, interval: 10 });
    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(calls.length).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 20 });
    const [to, back] = calls;
    const other = to!.split(' ')[1]!.split('->')[0]!;
    expect(back).toBe(`repoint ${other}->pge-n0`);
    expect(calls.filter((c) => c.startsWith('promote'))).toEqual([]);
    expect(s.topology().primary).toBe('pge-n0');
  }, 90_000);

  it('a dead old primary streams to nobody: nothing to cascade, the promotion comes first and the others are repointed after it', async () => {
    store = await embeddedCluster('pge', NODES);
    const s = store;
    const control = new EmbeddedClusterControl(s.embedded);
    const calls: string[] = [];
    recordSteps(control, calls);
    await lead(s, control);
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true }), { timeout: 5_000, interval: 10 });
    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pge-n0' }), { timeout: 10_000, interval: 20 });
    const promoted = s.topology().primary;
    const other = NODES.find((n) => n !== promoted && n !== 'pge-n0')!;
    expect(calls).toEqual([`promote ${promoted}`, `repoint ${other}->${promoted}`]);
  }, 90_000);

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
