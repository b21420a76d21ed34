// Per-partition offset tracking for contract 3: the committable offset is the first record not yet done
// (applied and replicated, or dead-lettered). Records are tracked in log order; they finish in any order.

/** A tracked record; handing it back to `settle` marks it done without searching for its offset. */
export interface TrackedOffset {
  readonly offset: bigint;
  done: boolean;
}

export class PartitionTracker {
  private readonly pending: TrackedOffset[] = [];
  private head = 0;
  private lastTracked: bigint | null = null;
  private doneCount = 0;

  constructor(
    /** The committed offset this tracker started from (the next offset to read). */
    private readonly startOffset: bigint,
  ) {}

  track(offset: bigint): TrackedOffset {
    if (this.lastTracked !== null && offset <= this.lastTracked) throw new Error(`offset ${offset} tracked out of order (last ${this.lastTracked})`);
    const entry: TrackedOffset = { offset, done: false };
    this.pending.push(entry);
    this.lastTracked = offset;
    return entry;
  }

  done(offset: bigint): void {
    // Binary search: pending is sorted by offset.
    let lo = this.head;
    let hi = this.pending.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = this.pending[mid]!;
      if (e.offset === offset) {
        this.settle(e);
        return;
      }
      if (e.offset < offset) lo = mid + 1;
      else hi = mid - 1;
    }
  }

  /** Marks a record that `track` returned as done (a second call changes nothing). */
  settle(e: TrackedOffset): void {
    if (!e.done) {
      e.done = true;
      this.doneCount++;
    }
    while (this.head < this.pending.length && this.pending[this.head]!.done) {
      this.head++;
      this.doneCount--;
    }
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The next offset to commit (Kafka convention: first unprocessed). */
  committable(): bigint {
    if (this.head < this.pending.length) return this.pending[this.head]!.offset;
    return this.lastTracked === null ? this.startOffset : this.lastTracked + 1n;
  }

  /** Records tracked but not yet done. */
  inFlight(): number {
    return this.pending.length - this.head - this.doneCount;
  }
}
