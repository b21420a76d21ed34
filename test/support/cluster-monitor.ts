// A ClusterMonitor over an embedded (PGlite) cluster, set up as the failover and leader unit tests share it: the
// real clock, silent logs, no inspection history, built-in mode, the embedded control plane, and a promotion that
// reroutes the store. A test names its probe timing and overrides whatever else it exercises.
import { MemoryCommandLog } from '../../adapters/kafka/memory-command-log.ts';
import { MemoryLeaderElection } from '../../adapters/kafka/memory-leader-election.ts';
import { EmbeddedClusterControl } from '../../adapters/pg/embedded-cluster-control.ts';
import { PgliteShardStore } from '../../adapters/pg/pglite-shard-store.ts';
import type { Topology } from '../../adapters/pg/port.ts';
import { ClusterMonitor, type ClusterMonitorDeps } from '../../actors/failover/cluster-monitor.ts';
import { ControlLog } from '../../actors/leader/control-log.ts';
import { Leader } from '../../actors/leader/leader.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { createInspectionBus } from '../../machines/inspection.ts';

/** An embedded cluster of `nodes` (the first is the primary), logging nothing. */
export function embeddedCluster(cluster: string, nodes: readonly string[]): Promise<PgliteShardStore> {
  return PgliteShardStore.create(cluster, [...nodes], { logger: silentLogger() });
}

export type TestMonitorOptions = Pick<ClusterMonitorDeps, 'machine'> & Partial<Omit<ClusterMonitorDeps, 'store'>>;

/** A monitor of `store` (not started): the defaults above, then `opts`. */
export function createTestMonitor(store: PgliteShardStore, opts: TestMonitorOptions): ClusterMonitor {
  return new ClusterMonitor({
    store,
    control: new EmbeddedClusterControl(store.embedded),
    clock: systemClock,
    logger: silentLogger(),
    inspection: createInspectionBus({ capacity: 0 }),
    mode: 'builtin',
    patroniUrls: [],
    onPromoted: async (t) => store.setTopology(t),
    ...opts,
  });
}

/**
 * Records the control plane's steps in `calls` (`repoint r->p`, and `promote n` unless `promote: false`), then
 * takes them on the embedded nodes; `onRepoint` sees each repoint first.
 */
export function recordSteps(control: EmbeddedClusterControl, calls: string[], opts: { promote?: boolean; onRepoint?: (replica: string, primary: string) => void } = {}): void {
  const repoint = control.repoint.bind(control);
  const promote = control.promote.bind(control);
  Object.assign(control, {
    repoint: async (replica: string, primary: string) => {
      calls.push(`repoint ${replica}->${primary}`);
      opts.onRepoint?.(replica, primary);
      await repoint();
    },
  });
  if (opts.promote === false) return;
  Object.assign(control, {
    promote: async (node: string) => {
      calls.push(`promote ${node}`);
      await promote(node);
    },
  });
}

/**
 * The store's probes show each replica streaming from `upstream.get(replica) ?? fallback`: a partition the
 * embedded nodes (whose replicas follow whichever node is primary) cannot show by themselves.
 */
export function reportUpstreams(store: PgliteShardStore, upstream: ReadonlyMap<string, string>, fallback: string | null): void {
  const probeNode = store.probeNode.bind(store);
  Object.assign(store, {
    probeNode: async (n: string) => {
      const p = await probeNode(n);
      return p.up && p.role === 'replica' ? { ...p, receiver: { status: 'streaming', upstream: upstream.get(n) ?? fallback, timeline: p.timeline ?? 1 } } : p;
    },
  });
}

/** A monitor of `store` that leads (an in-memory election, its own control log) and acts on `control`; started. */
export async function startLeadingMonitor(store: PgliteShardStore, control: EmbeddedClusterControl, opts: { onPromoted?: (t: Topology) => Promise<void> } = {}): Promise<{ monitor: ClusterMonitor; leader: Leader }> {
  const leader = new Leader({ election: new MemoryLeaderElection('ctl', { clock: systemClock, daemonId: 'me' }), control: new ControlLog(new MemoryCommandLog(), 'ctl', { clock: systemClock, groupId: 'ctl-me' }), clock: systemClock, logger: silentLogger(), url: () => null });
  await leader.start();
  await leader.join();
  const monitor = createTestMonitor(store, { control, leader, onPromoted: opts.onPromoted ?? (async (t) => store.setTopology(t)), machine: { probeIntervalMs: 50, probeTimeoutMs: 200, suspectAfterMisses: 2 } });
  monitor.start();
  return { monitor, leader };
}

/** The store's probes report each replica's receive and replay positions as `at(node)` says (null: as they are). */
export function reportPositions(store: PgliteShardStore, at: (node: string) => { receive: number; replay?: number } | null): void {
  const probeNode = store.probeNode.bind(store);
  const hex = (n: number): string => `0/${n.toString(16).toUpperCase()}`;
  Object.assign(store, {
    probeNode: async (n: string) => {
      const p = await probeNode(n);
      const pos = p.up && p.role === 'replica' ? at(n) : null;
      return pos ? { ...p, receiveLsn: hex(pos.receive), replayLsn: hex(pos.replay ?? pos.receive) } : p;
    },
  });
}
