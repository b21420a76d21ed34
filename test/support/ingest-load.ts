// Steady ingest for chaos tests: produces a deterministic command stream in small batches until stopped.
import type { CommandLog } from '../../adapters/kafka/port.ts';
import { commandStream } from './reference-model.ts';

export interface Load {
  produced: () => number;
  stop(): Promise<void>;
}

export function steadyLoad(log: CommandLog, topic: string, opts: { prefix: string; seed: number; batch?: number; everyMs?: number; entities?: number }): Load {
  let stopped = false;
  let n = 0;
  let round = 0;
  const loop = (async () => {
    while (!stopped) {
      const msgs = commandStream(opts.batch ?? 40, opts.seed * 100_000 + round++, { prefix: opts.prefix, entities: opts.entities ?? 400 });
      try {
        await log.produce(topic, msgs);
        n += msgs.length;
      } catch {
        /* the broker is being restarted by the drill: produce again next round */
      }
      await new Promise((r) => setTimeout(r, opts.everyMs ?? 25));
    }
  })();
  return {
    produced: () => n,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
