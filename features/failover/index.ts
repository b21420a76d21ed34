// Failover: one cluster monitor per PostgreSQL cluster (builtin promotion or following Patroni, per cluster),
// rerouting shard writers on promotion; planned switchover; re-seeding a diverged old primary; failover
// events, durations and topology in metrics and status; operator routes under /admin.
import { createClusterControls } from '../../adapters/pg/index.ts';
import type { Topology } from '../../adapters/pg/port.ts';
import { ClusterMonitor, type ClusterMonitorStatus } from '../../actors/failover/cluster-monitor.ts';
import { spawnMonitorActor } from '../../actors/failover/monitor-actor.ts';
import { isolateChild, restartWithBackoff } from '../../actors/runtime/policy.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import type { SwitchoverResult } from '../controls.ts';
import type { DaemonContext, Feature } from '../feature.ts';
import { failoverKey, readsKey } from '../keys.ts';
import { clusterFailover } from './cluster-mode.ts';
import { failoverOpenApiPaths } from './openapi.ts';
import { reseed, type ReseedResult } from './reseed.ts';
import { registerFailoverRoutes } from './routes.ts';

export interface FailoverApi {
  monitors: Map<string, ClusterMonitor>;
  /** Planned switchover to `target` (else the most caught-up replica); resolves once writes go to the new primary. */
  switchover(cluster: string, opts?: { target?: string }): Promise<SwitchoverResult>;
  /** Route reads to a re-seeded former primary again (it must stream from the current primary). */
  adopt(cluster: string, node: string): Promise<Topology>;
  /** Re-seed a diverged old primary as a replica of the current primary and adopt it (or say how, in production). */
  reseed(cluster: string, node: string): Promise<ReseedResult>;
}

/** The failover section of /status: each monitored cluster's monitor, by cluster name. */
export type FailoverStatus = Record<string, ClusterMonitorStatus>;

export async function failoverFeature(ctx: DaemonContext): Promise<Feature<FailoverStatus>> {
  const { config, adapters, tree, metrics, logger } = ctx;
  const controls = createClusterControls(config, adapters.stores);
  const monitors = new Map<string, ClusterMonitor>();
  for (const [name, store] of adapters.stores) {
    const { mode, patroniUrls } = clusterFailover(config, name);
    if (mode === 'off') continue;
    const monitor = new ClusterMonitor({
      store,
      control: controls.get(name)!,
      clock: ctx.clock,
      logger: logger.child({ actor: `/tagstream/monitors/${name}`, cluster: name }),
      inspection: ctx.inspection,
      machine: { probeIntervalMs: config.failover.probeIntervalMs, probeTimeoutMs: config.failover.probeTimeoutMs, suspectAfterMisses: config.failover.suspectAfterMisses },
      mode,
      patroniUrls,
      ...(ctx.leader ? { leader: ctx.leader } : {}),
      onPromote: (node) => metrics.promotions.inc({ cluster: name, node }),
      onEpoch: (epoch) => metrics.topologyEpoch.set({ cluster: name }, epoch),
      onPromoted: async (topology) => {
        await store.setTopology(topology);
        await tree.topologyChanged(name);
      },
      onCompleted: (s) => {
        metrics.failovers.inc({ cluster: name, outcome: s.reason === 'switchover' ? 'switchover' : s.fenceConfirmed ? 'fenced' : 'unconfirmed-fence' });
        // The histogram is the time to recover from a failure; a planned switchover is not one.
        if (s.reason !== 'switchover') metrics.failoverSeconds.observe({ cluster: name }, s.durationMs / 1000);
      },
    });
    monitors.set(name, monitor);
    if (mode === 'patroni') {
      // Patroni may promote the less caught-up replica while the old leader still streams to the other one, and
      // a replica may replay a deposed leader's writes before it is repointed: an offset is committed only once
      // every replica has the write and Patroni still names our primary as leader after that.
      const watcher = tree.watchers.get(name);
      watcher?.requireAllReplicas(true);
      watcher?.requireConfirmation((since) => monitor.confirmLeader(since));
    }
  }
  // Each monitor is an actor (a probe round per message); a monitor in a restart storm is parked and restarted
  // after a cool-down by its supervisor, never taking the other clusters' monitors down.
  const sup = config.supervision;
  const monitorsSup = tree.system.spawn({ name: 'monitors', kind: 'supervisor', init: () => null, receive: (s: null) => s, childPolicy: isolateChild({ coolDownMs: sup.restartMaxMs * 3, maxEscalations: 3, withinMs: 10 * 60_000 }) }, tree.root);
  const restart = restartWithBackoff({ backoff: { initialMs: sup.restartInitialMs, multiplier: 2, maxMs: sup.restartMaxMs, jitter: 0.2 }, maxRestarts: sup.maxRestarts, withinMs: sup.withinMs });
  const mailboxes = new Map([...monitors].map(([name, m]) => [name, spawnMonitorActor(tree.system, m, monitorsSup, { policy: restart, clock: ctx.clock }).mailbox]));

  // Fault injection: kill the current primary of a cluster.
  if (config.profile !== 'production') {
    for (const [name, store] of adapters.stores) {
      let killed: string | null = null;
      ctx.faults.set(`kill-primary:${name}`, {
        name: `kill-primary:${name}`,
        description: `Kill the current primary of ${name} (the monitor should promote a replica)`,
        // The node comes back; once a replica was promoted it stays fenced (diverged) until it is re-seeded.
        heal: async () => {
          if (store.faults && killed) store.faults.reviveNode(killed);
          killed = null;
        },
        inject: async () => {
          const primary = store.topology().primary;
          killed = primary;
          if (store.faults) return store.faults.killNode(primary);
          const services = await import('../../services/index.ts');
          const c = config.postgres.clusters.findIndex((x) => x.name === name);
          const n = config.postgres.clusters[c]!.nodes.findIndex((x) => x.name === primary);
          await services.killNode(config, { cluster: c, node: n });
        },
      });
    }
  }

  const monitorOf = (cluster: string): ClusterMonitor => {
    const m = monitors.get(cluster);
    if (m) return m;
    if (adapters.stores.has(cluster)) throw new TagstreamError(ErrorCodes.NOT_SUPPORTED, `failover is off for ${cluster}`);
    throw new TagstreamError(ErrorCodes.NOT_FOUND, `no cluster named "${cluster}"; known: ${[...adapters.stores.keys()].join(', ')}`);
  };
  const api: FailoverApi = {
    monitors,
    async switchover(cluster, opts = {}) {
      const m = monitorOf(cluster);
      logger.warn({ cluster, target: opts.target ?? null }, 'planned switchover requested');
      return m.switchover(opts);
    },
    adopt: (cluster, node) => monitorOf(cluster).adopt(node),
    reseed: (cluster, node) => reseed(config, adapters.stores.get(cluster)!, monitorOf(cluster), node),
  };
  registerFailoverRoutes(ctx.app, { adminToken: config.http.adminToken, api, logger });
  ctx.features.provide(failoverKey, api);

  return {
    name: 'failover',
    controls: { switchover: api },
    async start() {
      // /openapi.json belongs to the reads feature (attached after us): describe our routes there.
      ctx.features.api(readsKey)?.openapi.addPaths(failoverOpenApiPaths);
      for (const [name, m] of monitors) m.start(mailboxes.get(name));
    },
    async stop() {
      for (const m of monitors.values()) await m.stop();
      for (const c of controls.values()) await c.close();
    },
    notReady() {
      return [...monitors.values()].map((m) => m.status()).filter((s) => s.state !== 'healthy' && s.state !== 'suspect').map((s) => `cluster ${s.cluster} is ${s.state}`);
    },
    status() {
      return Object.fromEntries([...monitors].map(([n, m]) => [n, m.status()]));
    },
  };
}
