// A ClusterMonitor over an embedded (PGlite) cluster, set up as the failover and leader unit tests share it: the
// real clock, silent logs, no inspection history, built-in mode, the embedded control plane, and a promotion that
// reroutes the store. A test names its probe timing and overrides whatever else it exercises.
import { EmbeddedClusterControl } from '../../adapters/pg/embedded-cluster-control.ts';
import { PgliteShardStore } from '../../adapters/pg/pglite-shard-store.ts';
import { ClusterMonitor, type ClusterMonitorDeps } from '../../actors/failover/cluster-monitor.ts';
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
