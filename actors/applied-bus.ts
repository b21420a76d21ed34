// Lets an HTTP write with ?wait=applied learn when the shard writer applied its (partition, offset).
import type { Clock } from '../lib/clock.ts';
import type { Applied } from './shard-writer/messages.ts';

export class AppliedBus {
  private waiters = new Map<string, Array<(a: Applied | null) => void>>();
  /** Recently applied positions, so a waiter that registers late still hears about it. */
  private recent = new Map<string, Applied>();

  constructor(
    private readonly clock: Clock,
    private readonly recentCapacity = 10_000,
  ) {}

  /** Commands applied so far (tests and status). */
  count = 0;
  readonly byCluster = new Map<string, number>();

  applied(partition: number, offset: string, a: Applied): void {
    this.count++;
    this.byCluster.set(a.cluster, (this.byCluster.get(a.cluster) ?? 0) + 1);
    const key = `${partition}:${offset}`;
    this.recent.set(key, a);
    if (this.recent.size > this.recentCapacity) this.recent.delete(this.recent.keys().next().value!);
    const ws = this.waiters.get(key);
    if (ws) {
      this.waiters.delete(key);
      for (const w of ws) w(a);
    }
  }

  /** Resolves with the application, or null after `timeoutMs`. */
  wait(partition: number, offset: string, timeoutMs: number): Promise<Applied | null> {
    const key = `${partition}:${offset}`;
    const hit = this.recent.get(key);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        const ws = this.waiters.get(key)?.filter((w) => w !== done);
        if (ws?.length) this.waiters.set(key, ws);
        else this.waiters.delete(key);
        resolve(null);
      }, timeoutMs);
      const done = (a: Applied | null) => {
        this.clock.clearTimeout(timer);
        resolve(a);
      };
      const list = this.waiters.get(key) ?? [];
      list.push(done);
      this.waiters.set(key, list);
    });
  }
}
