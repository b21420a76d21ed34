// How fresh the index (and the analytics roll-up) is: consumer lag per partition (log end minus committed),
// the newest command written, and write→indexed / write→searchable lag percentiles. Search answers carry it.
// "Searchable" is bounded above by the index's refresh interval after the write is acknowledged.
import type { CommandLog } from '../../adapters/kafka/port.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Metrics } from '../../lib/metrics.ts';

interface Tracked {
  group: string;
  committed: () => Map<number, bigint>;
  lastWrittenAt: number | null;
  lastCommandAt: number | null;
  samples: number[];
  next: number;
  ends: Map<number, bigint>;
  fromLog: Map<number, bigint>;
  /** The last computed lag percentiles and when. */
  quantiles: { at: number; p50: number | null; p99: number | null } | null;
}

export interface FreshnessSnapshot {
  asOf: number;
  group: string;
  /** Commands in Kafka not yet finished by the sink, all partitions. */
  lag: number | null;
  partitions: Record<string, { committed: string | null; end: string; lag: number }>;
  /** Append time (Kafka) of the newest command written, and its age now. */
  lastCommandAt: number | null;
  lastCommandAgeMs: number | null;
  writeToIndexedMs: { p50: number | null; p99: number | null };
  writeToSearchableMs: { p50: number | null; p99: number | null };
}

const RESERVOIR = 2_048;
/**
 * Every search answer carries a snapshot: the lag percentiles (a sort of up to RESERVOIR samples, ~0.1 ms) are
 * computed at most this often and reused in between — at 250 searches/s the sort was 2 % of the daemon's CPU.
 */
const QUANTILES_EVERY_MS = 1_000;

export class Freshness {
  private readonly sinks = new Map<string, Tracked>();
  private asOf = 0;

  constructor(
    private readonly deps: { log: CommandLog; topic: string; clock: Clock; metrics: Metrics; refreshIntervalMs: number },
  ) {}

  track(sink: string, group: string, committed: () => Map<number, bigint>): void {
    this.sinks.set(sink, { group, committed, lastWrittenAt: null, lastCommandAt: null, samples: [], next: 0, ends: new Map(), fromLog: new Map(), quantiles: null });
  }

  /** p50/p99 of the write→indexed samples, computed at most every QUANTILES_EVERY_MS. */
  private quantiles(t: Tracked, now: number): { p50: number | null; p99: number | null } {
    if (t.quantiles && now - t.quantiles.at < QUANTILES_EVERY_MS) return t.quantiles;
    const sorted = [...t.samples].sort((a, b) => a - b);
    const q = (f: number) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]!);
    t.quantiles = { at: now, p50: q(0.5), p99: q(0.99) };
    return t.quantiles;
  }

  /** A command appended at `appendedAt` was written by `sink` just now. */
  written(sink: string, appendedAt: number, searchable: boolean): void {
    const t = this.sinks.get(sink);
    if (!t) return;
    const now = this.deps.clock.now();
    const lag = Math.max(0, now - appendedAt);
    t.lastWrittenAt = now;
    if (t.lastCommandAt === null || appendedAt > t.lastCommandAt) t.lastCommandAt = appendedAt;
    if (t.samples.length < RESERVOIR) t.samples.push(lag);
    else t.samples[t.next++ % RESERVOIR] = lag;
    if (searchable) this.deps.metrics.searchLagSeconds.observe((lag + this.deps.refreshIntervalMs) / 1_000);
  }

  /** Reads the log end offsets (one admin call) and updates the lag gauges. */
  async poll(): Promise<void> {
    const ends = await this.deps.log.endOffsets(this.deps.topic);
    for (const t of this.sinks.values()) {
      t.ends = new Map([...ends].map(([p, e]) => [p, BigInt(e)]));
      // Partitions this daemon has not committed yet: ask the group (another member, an earlier run).
      const mine = t.committed();
      if ([...t.ends.keys()].some((p) => !mine.has(p))) {
        const c = await this.deps.log.committed(t.group, this.deps.topic);
        t.fromLog = new Map([...c].map(([p, o]) => [p, BigInt(o)]));
      }
      for (const [p, end] of t.ends) {
        const c = mine.get(p) ?? t.fromLog.get(p) ?? 0n;
        this.deps.metrics.consumerLag.set({ group: t.group, partition: String(p) }, Math.max(0, Number(end - c)));
      }
    }
    this.asOf = this.deps.clock.now();
  }

  snapshot(sink: string): FreshnessSnapshot | null {
    const t = this.sinks.get(sink);
    if (!t) return null;
    const now = this.deps.clock.now();
    const mine = t.committed();
    const partitions: FreshnessSnapshot['partitions'] = {};
    let lag = 0;
    for (const [p, end] of t.ends) {
      const c = mine.get(p) ?? t.fromLog.get(p);
      const l = Math.max(0, Number(end - (c ?? 0n)));
      lag += l;
      partitions[String(p)] = { committed: c === undefined ? null : c.toString(), end: end.toString(), lag: l };
    }
    const { p50, p99 } = this.quantiles(t, now);
    return {
      asOf: this.asOf,
      group: t.group,
      lag: t.ends.size === 0 ? null : lag,
      partitions,
      lastCommandAt: t.lastCommandAt,
      lastCommandAgeMs: t.lastCommandAt === null ? null : now - t.lastCommandAt,
      writeToIndexedMs: { p50, p99 },
      writeToSearchableMs: { p50: p50 === null ? null : p50 + this.deps.refreshIntervalMs, p99: p99 === null ? null : p99 + this.deps.refreshIntervalMs },
    };
  }
}
