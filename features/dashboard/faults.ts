// The faults an operator can inject to watch the daemon respond: kill a cluster's primary, stop or freeze a
// Redis, stop the search index or the command log. Embedded: the stand-ins' fault hooks (each port's `faults`). Local: the real
// processes through services/ (SIGKILL/SIGSTOP and restart). Never registered in production.
import type { DaemonContext, FaultAction } from '../feature.ts';

type Register = (f: FaultAction) => void;

export function registerFaults(ctx: DaemonContext): string[] {
  const { config } = ctx;
  if (config.profile === 'production' || !config.faultInjection) return [];
  const added: string[] = [];
  const register: Register = (f) => {
    if (ctx.faults.has(f.name)) return; // another feature registered a richer one first
    ctx.faults.set(f.name, f);
    added.push(f.name);
  };
  if (config.profile === 'embedded') registerEmbedded(ctx, register);
  else registerLocal(ctx, register);
  register({
    name: 'crash-daemon',
    description: 'Throw an uncaught exception in the daemon: it writes its flight recording to flightRecorder.dir and exits 1 (npm start only; a process supervisor restarts it)',
    inject: async () => {
      // On the next turn, outside any promise chain: exactly what an unexpected bug looks like.
      setImmediate(() => {
        throw new Error('crash injected by an operator (fault crash-daemon)');
      });
    },
  });
  return added;
}

function registerEmbedded(ctx: DaemonContext, register: Register): void {
  for (const [cluster, store] of ctx.adapters.stores) {
    const hooks = store.faults;
    if (!hooks) continue;
    let killed: string | null = null;
    register({
      name: `kill-primary:${cluster}`,
      description: `Kill ${cluster}'s current primary (its connections fail like a dead server) — watch failover promote a replica`,
      inject: async () => {
        killed = store.topology().primary;
        hooks.killNode(killed);
      },
      heal: async () => {
        if (killed) hooks.reviveNode(killed);
        killed = null;
      },
    });
  }
  for (const [name, cache] of ctx.adapters.caches) {
    const hooks = cache.faults;
    if (!hooks) continue;
    register({ name: `stop-redis:${name}`, description: `Stop Redis ${name} (connections refused) — watch its breaker open and reads degrade`, inject: async () => hooks.setAvailable(false), heal: async () => hooks.setAvailable(true) });
    register({ name: `freeze-redis:${name}`, description: `Freeze Redis ${name} (calls hang until the command timeout) — the slow kind of outage`, inject: async () => hooks.freeze(), heal: async () => hooks.thaw() });
  }
  const search = ctx.adapters.search.faults;
  // The indexing feature registers its own search outage (it knows its breaker); one switch is enough.
  const searchFaultExists = [...ctx.faults.keys()].some((n) => /search|elastic/.test(n));
  if (search && !searchFaultExists) {
    register({ name: 'stop-elasticsearch', description: 'Stop the search index (calls fail like an unreachable node) — watch indexing retry, pause and converge', inject: async () => search.setAvailable(false), heal: async () => search.setAvailable(true) });
  }
  const log = ctx.adapters.log.faults;
  if (log) {
    register({ name: 'stop-kafka', description: 'Stop the command log (a dead broker) — ingest and HTTP writes stall, nothing is lost', inject: async () => log.setAvailable(false), heal: async () => log.setAvailable(true) });
  }
}

function registerLocal(ctx: DaemonContext, register: Register): void {
  // services/ is loaded only here: the embedded and production daemons never touch local processes.
  const services = () => import('../../services/index.ts');
  const scope = { services: ctx.config.services };
  ctx.config.postgres.clusters.forEach((c, ci) => {
    let killed: number | null = null;
    register({
      name: `kill-primary:${c.name}`,
      description: `SIGKILL ${c.name}'s current primary (postmaster and children) — watch failover promote a replica`,
      inject: async () => {
        const primary = ctx.adapters.stores.get(c.name)?.topology().primary ?? c.nodes[0]!.name;
        killed = Math.max(0, c.nodes.findIndex((n) => n.name === primary));
        await (await services()).killNode(scope, { cluster: ci, node: killed });
      },
      heal: async () => {
        // It comes back in whatever role its data directory says; our store keeps it fenced if it was replaced.
        if (killed !== null) await (await services()).startNode(scope, { cluster: ci, node: killed });
        killed = null;
      },
    });
  });
  ctx.config.redis.instances.forEach((r, i) => {
    register({ name: `stop-redis:${r.name}`, description: `SIGKILL Redis ${r.name}; heal starts it again, empty`, inject: async () => (await services()).killRedis(scope, i), heal: async () => (await services()).startRedis(scope, i) });
    register({ name: `freeze-redis:${r.name}`, description: `SIGSTOP Redis ${r.name} (calls hang until the command timeout); heal sends SIGCONT`, inject: async () => (await services()).stopRedis(scope, i), heal: async () => (await services()).contRedis(scope, i) });
  });
  if (![...ctx.faults.keys()].some((n) => /search|elastic/.test(n))) {
    register({ name: 'stop-elasticsearch', description: 'SIGKILL Elasticsearch; heal starts it again on the same data', inject: async () => (await services()).killElasticsearch(scope), heal: async () => (await services()).startElasticsearch(scope) });
  }
}
