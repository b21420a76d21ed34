// How the drill breaks things and mends them, through services/ and the daemon process. Each fault returns
// its heal function. A killed PG primary is not restarted (the daemon fences it): it is re-seeded as a replica
// of the new primary and adopted back into routing, so later faults have replicas to fail over to.
import type { Config } from '../config/index.ts';
import * as services from '../services/index.ts';
import type { DaemonProcess } from './daemon-process.ts';
import type { ScheduledFault } from './schedule.ts';

export interface FaultEnv {
  config: Readonly<Config>;
  daemon: DaemonProcess;
  adminToken: string;
  log: (line: string) => void;
}

interface ClusterView {
  primary: string;
  replicas: string[];
  fenced: string[];
}

async function topology(env: FaultEnv, cluster: number): Promise<ClusterView | null> {
  const name = env.config.postgres.clusters[cluster]!.name;
  try {
    const r = await fetch(`${env.daemon.url}/status`, { signal: AbortSignal.timeout(5_000) });
    const s = (await r.json()) as { topology?: Record<string, ClusterView> };
    return s.topology?.[name] ?? null;
  } catch {
    return null;
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
        // Wait for the daemon to promote, then re-seed the dead node as a replica of the new primary.
        const deadline = Date.now() + 60_000;
        let now = await topology(env, c);
        while (now && now.primary === t.primary && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 500));
          now = await topology(env, c);
        }
        if (!now || now.primary === t.primary) return env.log(`  (pg${c}: no promotion seen; leaving ${t.primary} down)`);
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
    case 'daemon-kill':
      await env.daemon.kill('SIGKILL');
      env.daemon.restarts++;
      return async () => env.daemon.start();
  }
}

async function reseed(env: FaultEnv, cluster: number, _node: number, _newPrimary: number, name: string): Promise<void> {
  // As an operator would: the daemon's admin route re-seeds the node (pg_rewind, else a base backup) and adopts it.
  const clusterName = env.config.postgres.clusters[cluster]!.name;
  const res = await fetch(`${env.daemon.url}/admin/reseed/${clusterName}/${name}`, { method: 'POST', headers: { authorization: `Bearer ${env.adminToken}` }, signal: AbortSignal.timeout(120_000) }).catch((e: unknown) => e as Error);
  env.log(`  re-seed ${name}: ${res instanceof Error ? res.message : `${res.status} ${(await res.text()).slice(0, 160)}`}`);
}
