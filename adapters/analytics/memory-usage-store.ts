// MemoryUsageStore: the embedded profile's UsageStore, with the same idempotence as PgUsageStore.
// Fault injection: setAvailable(false) makes every call fail like an unreachable server (classified retry).
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { OutageHooks } from '../fault-hooks.ts';
import { toSocketError } from '../socket-errors.ts';
import { positionKey, uniqueByPosition, type RecordResult, type UsageEvent, type UsageQuery, type UsageRow, type UsageStore } from './port.ts';

class UsageUnavailableError extends Error {
  readonly code = 'ECONNREFUSED';
  constructor() {
    super('connect ECONNREFUSED: embedded usage store unavailable (fault injected)');
    this.name = 'UsageUnavailableError';
  }
}

export class MemoryUsageStore implements UsageStore {
  private readonly rows = new Map<string, UsageRow>();
  /** position → when it was counted */
  private readonly seen = new Map<string, number>();
  private available = true;
  private readonly clock: Clock;

  constructor(opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  readonly faults: OutageHooks = { setAvailable: (a) => this.setAvailable(a) };

  setAvailable(available: boolean): void {
    this.available = available;
  }

  async migrate(): Promise<void> {
    this.check();
  }

  async record(events: UsageEvent[]): Promise<RecordResult> {
    this.check();
    const { unique, repeated } = uniqueByPosition(events);
    let counted = 0;
    const now = this.clock.now();
    for (const e of unique) {
      const pos = positionKey(e);
      if (this.seen.has(pos)) continue;
      this.seen.set(pos, now);
      const key = `${e.tag}\u0000${e.hour}`;
      const row = this.rows.get(key) ?? { tag: e.tag, hour: e.hour, attaches: 0, detaches: 0 };
      if (e.op === 'attach') row.attaches++;
      else row.detaches++;
      this.rows.set(key, row);
      counted++;
    }
    return { counted, duplicates: repeated + unique.length - counted };
  }

  async usage(q: UsageQuery = {}): Promise<UsageRow[]> {
    this.check();
    const out = [...this.rows.values()]
      .filter((r) => (q.tag === undefined || r.tag === q.tag) && (q.from === undefined || r.hour >= q.from) && (q.to === undefined || r.hour < q.to))
      .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : a.hour - b.hour))
      .map((r) => ({ ...r }));
    return q.limit === undefined ? out : out.slice(0, q.limit);
  }

  async prune(beforeMs: number): Promise<number> {
    this.check();
    let n = 0;
    for (const [pos, at] of this.seen) {
      if (at < beforeMs) {
        this.seen.delete(pos);
        n++;
      }
    }
    return n;
  }

  async ping(): Promise<void> {
    this.check();
  }

  async close(): Promise<void> {}

  private check(): void {
    if (!this.available) throw toSocketError(new UsageUnavailableError());
  }
}
