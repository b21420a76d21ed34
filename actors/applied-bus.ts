// Lets an HTTP write with ?wait=applied learn when the shard writer applied its (partition, offset).
import type { Clock } from '../lib/clock.ts';
import type { Applied } from './shard-writer/messages.ts';

export class AppliedBus {
  private waiters = new Map<string, Array<(a: Applied | null) => void>>();
  /**
   * Recently applied positions per partition, keyed by the offset string the record already carries (no key is
   * built per command), so a waiter that registers late still hears about it. Kept only while some writer
   * expects an application (see expect()): the ingest path pays nothing for it otherwise.
   */
  private recent = new Map<number, Map<string, Applied>>();
  private size = 0;
  private expecting = 0;
  /**
   * Their positions in arrival order, a ring: the oldest is evicted in O(1). (`recent.keys().next()` on one
   * big map walks past every deleted slot of its table first; at 10,000 entries that was 16% of the write
   * path's CPU.)
   */
  private readonly ringPartition: Int32Array;
  private readonly ringOffset: Array<string | undefined>;
  private ringHead = 0;

  constructor(
    private readonly clock: Clock,
    private readonly recentCapacity = 10_000,
  ) {
    this.ringPartition = new Int32Array(Math.max(0, recentCapacity));
    this.ringOffset = new Array<string | undefined>(Math.max(0, recentCapacity));
  }

  /** Positions remembered for late waiters. */
  get remembered(): number {
    return this.size;
  }

  /**
   * Call before producing a command whose application you will wait() for; call the returned function when done
   * waiting. From now on applied positions are remembered, so one applied before wait() registers is not missed.
   */
  expect(): () => void {
    this.expecting++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.expecting--;
    };
  }

  /** Commands applied so far (tests and status). */
  count = 0;
  readonly byCluster = new Map<string, number>();

  applied(partition: number, offset: string, a: Applied): void {
    this.count++;
    this.byCluster.set(a.cluster, (this.byCluster.get(a.cluster) ?? 0) + 1);
    this.remember(partition, offset, a);
    if (this.waiters.size === 0) return;
    const key = `${partition}:${offset}`;
    const ws = this.waiters.get(key);
    if (ws) {
      this.waiters.delete(key);
      for (const w of ws) w(a);
    }
  }

  private remember(partition: number, offset: string, a: Applied): void {
    if (this.recentCapacity <= 0 || this.expecting === 0) return;
    let byOffset = this.recent.get(partition);
    if (!byOffset) this.recent.set(partition, (byOffset = new Map()));
    if (byOffset.has(offset)) {
      byOffset.set(offset, a); // a replay: it keeps its place in the ring
      return;
    }
    const oldest = this.ringOffset[this.ringHead];
    if (oldest !== undefined && this.recent.get(this.ringPartition[this.ringHead]!)?.delete(oldest)) this.size--;
    this.ringPartition[this.ringHead] = partition;
    this.ringOffset[this.ringHead] = offset;
    this.ringHead = (this.ringHead + 1) % this.recentCapacity;
    byOffset.set(offset, a);
    this.size++;
  }

  /** Resolves with the application, or null after `timeoutMs` or once `signal` aborts (the waiter is dropped). */
  wait(partition: number, offset: string, timeoutMs: number, signal?: AbortSignal): Promise<Applied | null> {
    const key = `${partition}:${offset}`;
    const hit = this.recent.get(partition)?.get(offset);
    if (hit) return Promise.resolve(hit);
    if (signal?.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const drop = () => {
        const ws = this.waiters.get(key)?.filter((w) => w !== done);
        if (ws?.length) this.waiters.set(key, ws);
        else this.waiters.delete(key);
      };
      const giveUp = () => {
        this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        drop();
        resolve(null);
      };
      const timer = this.clock.setTimeout(giveUp, timeoutMs);
      const done = (a: Applied | null) => {
        this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        resolve(a);
      };
      signal?.addEventListener('abort', giveUp, { once: true });
      const list = this.waiters.get(key) ?? [];
      list.push(done);
      this.waiters.set(key, list);
    });
  }

  /** Waiters registered now (tests and status). */
  get waiting(): number {
    let n = 0;
    for (const ws of this.waiters.values()) n += ws.length;
    return n;
  }
}
