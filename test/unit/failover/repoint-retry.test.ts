// A replica left streaming from nobody after a failover is repointed later. Under load, the failover's repoint
// of the other replica failed (a connection past its timeout); the machine went on ("repointed": false) and
// nothing tried again: that replica kept asking the dead old primary for WAL, no standby streamed from the new
// primary, no batch's replication was ever proven and no offset of that cluster committed again (a fleet's hold
// topic stayed at committed 0 of ~8,000 commands for 4 minutes). The monitor now checks, on a healthy cluster,
// that each replica streams from the primary, and repoints one that has not for two checks in a row.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EmbeddedClusterControl } from '../../../adapters/pg/embedded-cluster-control.ts';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import type { NodeProbe } from '../../../adapters/pg/port.ts';
import type { ClusterMonitor } from '../../../actors/failover/cluster-monitor.ts';
import { createTestMonitor, embeddedCluster, recordSteps } from '../../support/cluster-monitor.ts';

const NODES = ['pgp-n0', 'pgp-n1', 'pgp-n2'];

describe('ClusterMonitor: a repoint that failed during a failover', () => {
  let monitor: ClusterMonitor | undefined;
  let store: PgliteShardStore | undefined;
  afterEach(async () => {
    await monitor?.stop();
    await store?.close();
  });

  it('is made again once the cluster is healthy: every replica streams from the new primary', async () => {
    store = await embeddedCluster('pgp', NODES);
    const s = store;
    // Where each replica's WAL receiver points (the embedded nodes follow any primary by themselves; a real
    // standby follows its primary_conninfo): n1 and n2 at n0 to begin with.
    const upstream = new Map<string, string>([
      ['pgp-n1', 'pgp-n0'],
      ['pgp-n2', 'pgp-n0'],
    ]);
    const probe = s.probe.bind(s);
    s.probe = async (): Promise<NodeProbe[]> =>
      (await probe()).map((p) => {
        if (!p.up || p.role !== 'replica') return p;
        const up = upstream.get(p.name) ?? null;
        const streaming = up !== null && s.embedded.roleOf(up) === 'primary' && !killed.has(up);
        return { ...p, receiver: { status: streaming ? 'streaming' : 'waiting', upstream: streaming ? up : null, timeline: p.timeline ?? 1 } };
      });
    const killed = new Set<string>();
    monitor = createTestMonitor(s, { machine: { probeIntervalMs: 50, probeTimeoutMs: 500, suspectAfterMisses: 2 } });
    const control = (monitor as unknown as { deps: { control: EmbeddedClusterControl } }).deps.control;
    const calls: string[] = [];
    let failRepoints = true;
    recordSteps(control, calls, {
      onRepoint: (replica, primary) => {
        if (failRepoints) throw new Error(`connect to ${replica}: Connection terminated due to connection timeout`);
        upstream.set(replica, primary);
      },
    });
    monitor.start();
    s.embedded.killNode('pgp-n0');
    killed.add('pgp-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pgp-n0', repointed: false }), { timeout: 30_000, interval: 20 });
    const primary = s.topology().primary;
    const other = NODES.find((n) => n !== 'pgp-n0' && n !== primary)!;
    upstream.set(primary, ''); // the promoted node streams from nobody
    expect(upstream.get(other)).toBe('pgp-n0'); // still asking the dead node for WAL

    failRepoints = false;
    await vi.waitFor(() => expect(upstream.get(other)).toBe(primary), { timeout: 10_000, interval: 20 });
    expect(calls.filter((c) => c === `repoint ${other}->${primary}`).length).toBeGreaterThanOrEqual(2); // the failover's, then the check's
    // Streaming now: no more repoints.
    const made = calls.length;
    const rounds = (monitor as unknown as { rounds: number }).rounds;
    await vi.waitFor(() => expect((monitor as unknown as { rounds: number }).rounds).toBeGreaterThan(rounds + 12), { timeout: 10_000, interval: 20 });
    expect(calls.length).toBe(made);
  }, 60_000);
});
