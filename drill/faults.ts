// How the drill breaks things and mends them, through services/ and the daemon processes. Each fault returns
// its heal function. A killed PG primary is not restarted (the leader fences it): it is re-seeded as a replica
// of the new primary and adopted back into routing, so later faults have replicas to fail over to. Topology is
// read from the failover leader (any daemon that answers when none leads); re-seeding is asked of the leader.
import type { Config } from '../config/index.ts';
import * as services from '../services/index.ts';
import type { Fleet, FleetMember } from './fleet.ts';
import type { ScheduledFault } from './schedule.ts';

export interface FaultEnv {
  config: Readonly<Config>;
  fleet: Fleet;
  adminToken: string;
  log: (line: string) => void;
  /** The drill tells the load which nodes are diverged now (an old primary started again on its old timeline). */
  setDiverged: (node: string, on: boolean) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ClusterView {
  primary: string;
  replicas: string[];
  fenced: string[];
}

async function topology(env: FaultEnv, cluster: number): Promise<ClusterView | null> {
  const name = env.config.postgres.clusters[cluster]!.name;
  const via = (await env.fleet.leader()) ?? env.fleet.anyUp();
  if (!via) return null;
  const s = (await env.fleet.status(via, 5_000)) as { topology?: Record<string, ClusterView> } | null;
  return s?.topology?.[name] ?? null;
}

/** Waits (bounded) until the deployment names another primary than `old` for the cluster. */
async function promotedAway(env: FaultEnv, cluster: number, old: string, timeoutMs = 60_000): Promise<ClusterView | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await topology(env, cluster);
    if (now && now.primary !== old) return now;
    if (Date.now() > deadline) return null;
    await sleep(500);
  }
}

/** The leader now, waiting (bounded) through an election. */
async function leaderOf(env: FaultEnv, timeoutMs = 30_000): Promise<FleetMember | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = await env.fleet.leader();
    if (l || Date.now() > deadline) return l;
    await sleep(250);
  }
}

const nodeIndex = (name: string) => Number(name.slice(name.lastIndexOf('n') + 1));

export async function inject(f: ScheduledFault, env: FaultEnv): Promise<() => Promise<void>> {
  const { config } = env;
  const c = f.target;
  switch (f.kind) {
    case 'pg-primary-kill': {
      const t = await topology(env, c);
      if (!t) return async () => undefined;
      const n = nodeIndex(t.primary);
      await services.killNode(config, { cluster: c, node: n });
      return async () => {
        // Wait for the leader to promote, then re-seed the dead node as a replica of the new primary.
        const now = await promotedAway(env, c, t.primary);
        if (!now) return env.log(`  (pg${c}: no promotion seen; leaving ${t.primary} down)`);
        await reseed(env, c, n, nodeIndex(now.primary), t.primary);
      };
    }
    case 'pg-primary-stop': {
      const t = await topology(env, c);
      if (!t) return async () => undefined;
      const n = nodeIndex(t.primary);
      services.stopNode(config, { cluster: c, node: n });
      return async () => {
        services.contNode(config, { cluster: c, node: n });
        const now = await topology(env, c);
        // If the daemon failed over meanwhile, the thawed old primary is fenced: re-seed it.
        if (now && now.primary !== t.primary) await reseed(env, c, n, nodeIndex(now.primary), t.primary);
      };
    }
    case 'pg-cluster-stop': {
      // Every node of the cluster: unreachable, nothing to promote. The primary thaws first so that it answers
      // before a replica could be elected; the daemon held the cluster's commands and drains them now.
      const nodes = config.postgres.clusters[c]!.nodes.map((_, n) => n);
      const t = await topology(env, c);
      const primary = t ? nodeIndex(t.primary) : 0;
      for (const n of nodes) services.stopNode(config, { cluster: c, node: n });
      return async () => {
        services.contNode(config, { cluster: c, node: primary });
        await new Promise((r) => setTimeout(r, 2_000));
        for (const n of nodes) if (n !== primary) services.contNode(config, { cluster: c, node: n });
        const now = await topology(env, c);
        if (t && now && now.primary !== t.primary) await reseed(env, c, primary, nodeIndex(now.primary), t.primary);
      };
    }
    case 'pg-replica-kill':
    case 'pg-replica-stop': {
      const t = await topology(env, c);
      const replica = t?.replicas[0];
      if (!t || !replica) return async () => undefined;
      const n = nodeIndex(replica);
      if (f.kind === 'pg-replica-kill') {
        await services.killNode(config, { cluster: c, node: n });
        return async () => services.startNode(config, { cluster: c, node: n });
      }
      services.stopNode(config, { cluster: c, node: n });
      return async () => services.contNode(config, { cluster: c, node: n });
    }
    case 'redis-kill':
      await services.killRedis(config, c);
      return async () => services.startRedis(config, c);
    case 'redis-stop':
      services.stopRedis(config, c);
      return async () => services.contRedis(config, c);
    case 'es-kill':
      await services.killElasticsearch(config);
      return async () => services.startElasticsearch(config);
    case 'kafka-restart':
      await services.restartKafka(config, { kill: true });
      return async () => undefined;
    case 'daemon-kill': {
      const d = env.fleet.members[c % env.fleet.members.length]!;
      await d.kill('SIGKILL');
      d.restarts++;
      env.log(`  killed ${d.name}`);
      return async () => d.start();
    }
    case 'leader-kill': {
      const d = await leaderOf(env);
      if (!d) {
        env.log('  (no leader to kill)');
        return async () => undefined;
      }
      await d.kill('SIGKILL');
      d.restarts++;
      env.log(`  SIGKILLed the leader ${d.name}`);
      return async () => d.start();
    }
    case 'leader-pause': {
      const d = await leaderOf(env);
      if (!d) {
        env.log('  (no leader to pause)');
        return async () => undefined;
      }
      d.pause();
      env.log(`  SIGSTOPped the leader ${d.name} (past its lease)`);
      return async () => {
        d.resume();
        env.log(`  SIGCONTed ${d.name}`);
      };
    }
    case 'daemon-restart-primary-down': {
      // Issue 14's stale reads: the primary killed; a failover; a daemon restarted while the old primary is still
      // down; the old primary started again as it was (writable, old timeline). Nobody may read from it.
      const t = await topology(env, c);
      if (!t) return async () => undefined;
      const n = nodeIndex(t.primary);
      await services.killNode(config, { cluster: c, node: n });
      const now = await promotedAway(env, c, t.primary);
      if (!now) {
        env.log(`  (pg${c}: no promotion seen; leaving ${t.primary} down)`);
        return async () => undefined;
      }
      env.log(`  pg${c}: ${t.primary} killed, ${now.primary} promoted`);
      const leader = await env.fleet.leader();
      const d = env.fleet.members.find((m) => m !== leader && m.available()) ?? env.fleet.members[0]!;
      await d.kill('SIGKILL');
      d.restarts++;
      await d.start();
      env.log(`  restarted ${d.name} while ${t.primary} is down`);
      env.setDiverged(t.primary, true);
      await services.startNode(config, { cluster: c, node: n });
      env.log(`  started ${t.primary} again (its old timeline)`);
      return async () => {
        await reseed(env, c, n, nodeIndex(now.primary), t.primary);
        env.setDiverged(t.primary, false);
      };
    }
  }
}

async function reseed(env: FaultEnv, cluster: number, _node: number, _newPrimary: number, name: string): Promise<void> {
  // As an operator would: the leader's admin route re-seeds the node (pg_rewind, else a base backup) and adopts
  // it. A follower answers 409 NOT_LEADER naming the leader; with no leader yet (an election), ask again.
  const clusterName = env.config.postgres.clusters[cluster]!.name;
  const deadline = Date.now() + 60_000;
  let last = '';
  for (;;) {
    const to = (await leaderOf(env, 10_000)) ?? env.fleet.anyUp();
    if (to) {
      const res = await fetch(`${to.url}/admin/reseed/${clusterName}/${name}`, { method: 'POST', headers: { authorization: `Bearer ${env.adminToken}` }, signal: AbortSignal.timeout(120_000) }).catch((e: unknown) => e as Error);
      last = res instanceof Error ? res.message : `${res.status} ${(await res.text()).slice(0, 160)}`;
      if (!(res instanceof Error) && res.status !== 409 && res.status < 500) return env.log(`  re-seed ${name} via ${to.name}: ${last}`);
    }
    if (Date.now() > deadline) return env.log(`  re-seed ${name}: gave up (${last || 'no daemon up'})`);
    await sleep(1_000);
  }
}
