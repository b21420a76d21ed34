// Last-known-good copies of non-critical answers (popular tags by limit), bounded, in memory. While degraded
// they are served with a "features limited" marker; a longer list answers a shorter request.
import type { PopularEntry } from '../../actors/cache-shard/keys.ts';

export class LastKnownGood {
  private readonly entries = new Map<number, PopularEntry>();

  constructor(private readonly capacity: number) {}

  set(limit: number, entry: PopularEntry): void {
    const prev = this.entries.get(limit);
    if (prev && prev.at > entry.at) return; // an older answer that finished late
    this.entries.delete(limit); // re-insert: Map order is the eviction order
    this.entries.set(limit, entry);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The newest copy that answers `limit` (its own, a longer list cut to it); else the newest shorter list. */
  get(limit: number): PopularEntry | undefined {
    let best: PopularEntry | undefined;
    let partial: PopularEntry | undefined;
    for (const [l, e] of this.entries) {
      // A shorter list that was full may lack tags a longer one would show: only a fallback.
      const complete = l >= limit || e.tags.length < l;
      if (complete && (!best || e.at > best.at)) best = e;
      if (!complete && (!partial || e.at > partial.at)) partial = e;
    }
    const pick = best ?? partial;
    return pick && { tags: pick.tags.slice(0, limit), at: pick.at };
  }

  get size(): number {
    return this.entries.size;
  }
}
