// A bounded ring buffer: keeps the last `capacity` items, oldest first on read, and counts what it dropped.

export class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  /** Items pushed out by newer ones since creation. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer (got ${capacity})`);
  }

  push(item: T): void {
    if (this.items.length < this.capacity) {
      this.items.push(item);
    } else {
      this.items[this.next] = item;
      this.dropped++;
    }
    this.next = (this.next + 1) % this.capacity;
  }

  get size(): number {
    return this.items.length;
  }

  /** Oldest first. */
  toArray(): T[] {
    return this.items.length < this.capacity ? this.items.slice() : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }

  /** The newest `n`, oldest first. */
  last(n: number): T[] {
    const all = this.toArray();
    return n >= all.length ? all : all.slice(all.length - n);
  }
}
