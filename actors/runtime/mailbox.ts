// A bounded mailbox counter with backpressure: senders await space instead of growing memory without bound.
// Messages have a weight (a batch of 200 commands weighs 200), so the bound is on work, not on envelopes; a
// message heavier than the whole capacity is admitted into an empty mailbox so it can never deadlock.

export class MailboxGate {
  private queued = 0;
  private waiters: Array<{ weight: number; grant: () => void }> = [];
  constructor(readonly capacity: number) {}

  get depth(): number {
    return this.queued;
  }

  get full(): boolean {
    return this.queued >= this.capacity;
  }

  private fits(weight: number): boolean {
    return this.queued === 0 || this.queued + weight <= this.capacity;
  }

  /** Takes `weight` slots if they are free. */
  tryAcquire(weight = 1): boolean {
    if (!this.fits(weight)) return false;
    this.queued += weight;
    return true;
  }

  /** Resolves once a slot is taken (FIFO among waiting senders); rejects if `signal` aborts first. */
  acquire(signal?: AbortSignal, weight = 1): Promise<void> {
    if (this.waiters.length === 0 && this.tryAcquire(weight)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        weight,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.queued += weight;
          resolve();
        },
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** A message of `weight` left the mailbox (handled or dropped). */
  release(weight = 1): void {
    this.queued = Math.max(0, this.queued - weight);
    // FIFO: the first waiter goes first even if a lighter one behind it would fit.
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.weight)) this.waiters.shift()!.grant();
  }

  /** Releases every slot (actor stopped): waiting senders proceed and will find the actor dead. */
  drain(): void {
    this.queued = 0;
    while (this.waiters.length > 0) this.waiters.shift()!.grant();
  }
}
