// Steady ingest for chaos tests: produces a deterministic command stream in small batches until stopped.
import type { CommandLog } from '../../adapters/kafka/port.ts';
import { commandStream } from './reference-model.ts';

export interface Load {
  produced: () => number;
  /** Commands produced (acknowledged by the log) for entities of `cluster` (with `clusterOf`). */
  producedOn: (cluster: string) => number;
  stop(): Promise<void>;
}

export interface LoadOptions {
  prefix: string;
  seed: number;
  batch?: number;
  everyMs?: number;
  entities?: number;
  /**
   * Open loop: a batch every `everyMs` on a fixed schedule, produced without waiting for the previous one (at most
   * 50 in flight), so a slower broker does not lower the offered rate. Default: closed (produce, then wait).
   */
  openLoop?: boolean;
  /** Counts what is produced per cluster (producedOn). */
  clusterOf?: (entity: string) => string;
}

const MAX_IN_FLIGHT = 50;

export function steadyLoad(log: CommandLog, topic: string, opts: LoadOptions): Load {
  let stopped = false;
  let n = 0;
  let round = 0;
  const byCluster = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  const everyMs = opts.everyMs ?? 25;
  const produce = async (msgs: ReturnType<typeof commandStream>) => {
    try {
      await log.produce(topic, msgs);
      n += msgs.length;
      if (opts.clusterOf) for (const m of msgs) byCluster.set(opts.clusterOf(m.key), (byCluster.get(opts.clusterOf(m.key)) ?? 0) + 1);
    } catch {
      /* the broker is being restarted by the drill: produce again next round */
    }
  };
  const loop = (async () => {
    const start = Date.now();
    while (!stopped) {
      const msgs = commandStream(opts.batch ?? 40, opts.seed * 100_000 + round++, { prefix: opts.prefix, entities: opts.entities ?? 400 });
      if (!opts.openLoop) {
        await produce(msgs);
        await new Promise((r) => setTimeout(r, everyMs));
        continue;
      }
      if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      const p = produce(msgs).finally(() => inFlight.delete(p));
      inFlight.add(p);
      await new Promise((r) => setTimeout(r, Math.max(0, start + round * everyMs - Date.now())));
    }
    await Promise.all(inFlight);
  })();
  return {
    produced: () => n,
    producedOn: (cluster) => byCluster.get(cluster) ?? 0,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
