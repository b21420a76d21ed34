// Consumer lag over time, read from Kafka itself: log end offsets minus each group's committed offsets.
import type { CommandLog } from '../adapters/kafka/port.ts';

export interface LagSample {
  t: number;
  writers: number;
  indexer: number;
}

export async function lagOf(log: CommandLog, topic: string, group: string): Promise<number> {
  const ends = await log.endOffsets(topic);
  const committed = await log.committed(group, topic);
  let lag = 0;
  for (const [p, end] of ends) lag += Number(BigInt(end) - BigInt(committed.get(p) ?? '0'));
  return lag;
}

export function sampleLag(log: CommandLog, topic: string, groups: { writers: string; indexer: string }, everyMs: number, started: number) {
  const samples: LagSample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        samples.push({ t: Math.round((Date.now() - started) / 1000), writers: await lagOf(log, topic, groups.writers), indexer: await lagOf(log, topic, groups.indexer) });
      } catch {
        /* the broker is restarting: no sample this time */
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** A small text chart of the lag curve (one row per sample, bars scaled to the maximum). */
export function lagChart(samples: LagSample[], width = 40): string[] {
  const max = Math.max(1, ...samples.map((s) => Math.max(s.writers, s.indexer)));
  return samples.map((s) => `${String(s.t).padStart(5)}s  writers ${String(s.writers).padStart(6)} ${'#'.repeat(Math.round((s.writers / max) * width)).padEnd(width)}  indexer ${String(s.indexer).padStart(6)}`);
}
