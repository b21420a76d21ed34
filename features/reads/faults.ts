// Redis faults for operators and tests (embedded and local profiles only). Embedded: the stand-in's fault
// hooks (CacheStore.faults); a stopped instance comes back empty, as a restarted Redis without persistence does. Local: the real
// processes through services/ (SIGKILL + restart, SIGSTOP + SIGCONT). Names match the dashboard's.
import type { DaemonContext, FaultAction } from '../feature.ts';

export function registerRedisFaults(ctx: DaemonContext): string[] {
  const { config } = ctx;
  if (config.profile === 'production' || !config.faultInjection) return [];
  const added: string[] = [];
  const register = (f: FaultAction) => {
    if (ctx.faults.has(f.name)) return;
    ctx.faults.set(f.name, f);
    added.push(f.name);
  };
  const services = () => import('../../services/index.ts'); // loaded only when a local fault is used
  const scope = { services: config.services };
  config.redis.instances.forEach((r, i) => {
    if (config.profile === 'embedded') {
      const hooks = ctx.adapters.caches.get(r.name)?.faults;
      if (!hooks) return;
      register({
        name: `stop-redis:${r.name}`,
        description: `Stop Redis ${r.name} (connections refused); heal brings it back empty — watch its breaker open, popular tags degrade and the key epoch move on`,
        inject: async () => hooks.setAvailable(false),
        heal: async () => {
          hooks.flushAll();
          hooks.setAvailable(true);
        },
      });
      register({ name: `freeze-redis:${r.name}`, description: `Freeze Redis ${r.name} (calls hang until the timeout); heal thaws it with its data`, inject: async () => hooks.freeze(), heal: async () => hooks.thaw() });
      return;
    }
    register({ name: `stop-redis:${r.name}`, description: `SIGKILL Redis ${r.name}; heal starts it again, empty`, inject: async () => (await services()).killRedis(scope, i), heal: async () => (await services()).startRedis(scope, i) });
    register({ name: `freeze-redis:${r.name}`, description: `SIGSTOP Redis ${r.name}; heal sends SIGCONT`, inject: async () => (await services()).stopRedis(scope, i), heal: async () => (await services()).contRedis(scope, i) });
  });
  return added;
}
