// Before a promotion with several daemons, the leader cascades the other replicas from the candidate (issue 14, a
// one-sided partition: the old primary is lost to the leader only and still takes the others' writes). A
// candidate is promoted only once it is made safe — every other replica streams from it and it holds everything
// they received — else the replicas go back to their upstream and the next candidate is tried; an old primary that
// answers writable meanwhile abandons the failover; a dead one streams to nobody and costs nothing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedClusterControl } from '../../../adapters/pg/embedded-cluster-control.ts';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import type { ClusterMonitor } from '../../../actors/failover/cluster-monitor.ts';
import type { Leader } from '../../../actors/leader/leader.ts';
import { embeddedCluster, recordSteps, reportPositions, reportUpstreams, startLeadingMonitor } from '../../support/cluster-monitor.ts';

const NODES = ['pge-n0', 'pge-n1', 'pge-n2'];

describe('the cascade before a promotion', () => {
  let monitor: ClusterMonitor | undefined;
  let store: PgliteShardStore | undefined;
  let leader: Leader | undefined;
  afterEach(async () => {
    await monitor?.stop();
    await leader?.stop();
    await store?.close();
  });

  /**
   * pge-n0 is lost to this daemon only: the replicas report streaming from it (at an address this daemon cannot
   * name) until repointed. Every repoint and promotion is recorded in `calls`.
   */
  async function partitioned() {
    store = await embeddedCluster('pge', NODES);
    const s = store;
    const control = new EmbeddedClusterControl(s.embedded);
    const calls: string[] = [];
    const upstream = new Map<string, string>();
    reportUpstreams(s, upstream, null);
    recordSteps(control, calls, { onRepoint: (r, p) => void upstream.set(r, p) });
    return { s, control, calls, upstream };
  }

  /** This daemon leads; then pge-n0 dies (for it) and the failover that follows ends with `to` promoted. */
  async function failOver(s: PgliteShardStore, control: EmbeddedClusterControl, to: string): Promise<void> {
    ({ monitor, leader } = await startLeadingMonitor(s, control));
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true }), { timeout: 5_000, interval: 10 });
    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pge-n0', to }), { timeout: 15_000, interval: 20 });
  }

  it('the candidate catches up with everything a cascaded replica had received before its repoint, not only with what its restarted WAL receiver reports after it', async () => {
    const { s, control, calls, upstream } = await partitioned();
    // pge-n1 is the most caught-up replica when elected; then pge-n2 receives more from pge-n0 (still writable
    // for the other daemons). Its repoint restarts its WAL receiver, which reports a lower receive position, and
    // pge-n1 receives the rest slowly (it still streams from pge-n0).
    let prepared = false;
    let candidateAt = 0x4000000;
    let promotedAt: number | null = null;
    reportPositions(s, (n) => {
      if (n === 'pge-n1') return { receive: prepared ? (candidateAt += 0x100000) : candidateAt };
      if (!prepared) return { receive: 0x3000000 };
      return upstream.get(n) === 'pge-n1' ? { receive: 0x3000000, replay: 0x4800000 } : { receive: 0x5000000, replay: 0x4800000 };
    });
    const promote = control.promote.bind(control);
    Object.assign(control, { prepare: () => void (prepared = true), promote: async (n: string) => ((promotedAt = candidateAt), promote(n)) });
    await failOver(s, control, 'pge-n1');
    expect(calls.slice(0, 2)).toEqual(['repoint pge-n2->pge-n1', 'promote pge-n1']);
    expect(promotedAt).toBeGreaterThanOrEqual(0x5000000);
  }, 90_000);

  it('a replica that streams from the old primary and cannot be repointed keeps the candidate from being promoted: the next candidate, made safe, is', async () => {
    const { s, control, calls } = await partitioned();
    // pge-n2's repoint fails (a session past its timeout on a loaded machine): it goes on streaming from pge-n0,
    // still writable for the other daemons, and would prove their writes there after pge-n1's promotion.
    const repoint = control.repoint.bind(control) as (replica: string, primary: string) => Promise<void>; // recordSteps' own
    Object.assign(control, {
      repoint: async (r: string, p: string) => {
        if (r !== 'pge-n2') return repoint(r, p);
        calls.push(`failed repoint ${r}->${p}`);
        throw new Error('timeout exceeded when trying to connect');
      },
    });
    await failOver(s, control, 'pge-n2');
    expect(calls.slice(0, 3)).toEqual(['failed repoint pge-n2->pge-n1', 'repoint pge-n1->pge-n2', 'promote pge-n2']);
    expect(calls).not.toContain('promote pge-n1');
  }, 90_000);

  it('a candidate that cannot catch up with a cascaded replica is not promoted: the replica is pointed back, and the next candidate is', async () => {
    const { s, control, calls } = await partitioned();
    // pge-n1 is ahead when elected; then pge-n2 receives more from pge-n0, which pge-n1 never gets (pge-n0 froze
    // for it): promoting pge-n1 would lose WAL pge-n2 may have proven replication with.
    let prepared = false;
    reportPositions(s, (n) => ({ receive: n === 'pge-n1' ? 0x4000000 : prepared ? 0x5000000 : 0x3000000 }));
    Object.assign(control, { prepare: () => void (prepared = true) });
    await failOver(s, control, 'pge-n2');
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
    ({ monitor, leader } = await startLeadingMonitor(s, control));
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
    ({ monitor, leader } = await startLeadingMonitor(s, control));
    await vi.waitFor(() => expect(monitor!.status().leadership).toMatchObject({ acting: true }), { timeout: 5_000, interval: 10 });
    s.embedded.killNode('pge-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pge-n0' }), { timeout: 10_000, interval: 20 });
    const promoted = s.topology().primary;
    const other = NODES.find((n) => n !== promoted && n !== 'pge-n0')!;
    expect(calls).toEqual([`promote ${promoted}`, `repoint ${other}->${promoted}`]);
  }, 90_000);
});
