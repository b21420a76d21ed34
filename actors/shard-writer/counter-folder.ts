// Folds each cluster's appended counter deltas into its counters every `everyMs`. A write batch appends its
// deltas as one row (schema v3) instead of upserting a counter row per (shard, tag); reads sum the folded
// counters and the rows not yet folded, so a fold keeps that sum short and changes no count. Every daemon of a
// deployment folds (two folds at once are safe: see FOLD_COUNTERS); a fold that fails (the primary dead, a
// failover under way) is tried again on the next tick and loses nothing: the rows stay where reads find them.
import { sleep, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';

export interface FoldTarget {
  foldCounters(): Promise<number>;
}

export interface CounterFolderOptions {
  clock: Clock;
  logger: Logger;
  everyMs: number;
  /** Each fold's outcome: the delta rows it folded, or why it failed. */
  onFold?: (cluster: string, outcome: { rows: number } | { err: unknown }) => void;
}

export class CounterFolder {
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  /** Clusters whose last fold failed: a failure streak is logged once, at its start and at its end. */
  private readonly failing = new Set<string>();

  constructor(
    private readonly stores: ReadonlyMap<string, FoldTarget>,
    private readonly opts: CounterFolderOptions,
  ) {}

  start(): void {
    if (this.loops.length > 0) return;
    for (const [cluster, store] of this.stores) this.loops.push(this.loop(cluster, store));
  }

  /** Stops the timers; a fold in flight finishes (one statement) before this resolves. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private async loop(cluster: string, store: FoldTarget): Promise<void> {
    const { clock, everyMs, logger, onFold } = this.opts;
    for (;;) {
      try {
        await sleep(clock, everyMs, this.abort.signal);
      } catch {
        return;
      }
      try {
        const rows = await store.foldCounters();
        if (this.failing.delete(cluster)) logger.info({ cluster, rows }, 'counter folds work again');
        onFold?.(cluster, { rows });
      } catch (err) {
        if (!this.failing.has(cluster)) {
          this.failing.add(cluster);
          logger.warn({ cluster, err }, `folding the counter deltas failed; tried again every ${everyMs} ms (counts stay exact: reads sum the unfolded deltas)`);
        }
        onFold?.(cluster, { err });
      }
    }
  }
}
