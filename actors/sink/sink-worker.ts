// A pool worker of a sink: buffers items (by size and time window, like a shard writer), writes them with
// writeWithRetry through the sink's breaker, dead-letters what failed for good, and acks or fails every item.
// An unknown (fatal) error crashes the worker: its supervisor restarts it with backoff and the consumer
// re-delivers. Its buffer lives outside the actor state so a crash fails it instead of losing it.
import type { DeadLetterSink } from '../dlq/dead-letter.ts';
import type { ActorSpec } from '../runtime/system.ts';
import type { Policy } from '../runtime/policy.ts';
import type { Breaker, InspectionBus, RetryPolicy } from '../../machines/index.ts';
import type { ErrorClass } from '../../lib/classify.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { SinkItem, SinkWorkerMsg } from './messages.ts';
import type { SinkTarget } from './target.ts';
import { writeWithRetry, type WriteOutcome } from './write-with-retry.ts';

export interface SinkWorkerDeps<I> {
  name: string;
  target: SinkTarget<I>;
  breaker: Breaker;
  dlq: DeadLetterSink;
  /** x-consumer of the dead letters: the sink's consumer group. */
  consumer: string;
  clock: Clock;
  logger: Logger;
  retry: RetryPolicy;
  batchSize: number;
  batchWindowMs: number;
  signal: AbortSignal;
  inspect?: Pick<InspectionBus, 'publish'>;
  onRetry?: (cls: ErrorClass) => void;
  /** After each write: how long it took and how many items it finished. */
  onWrite?: (info: { size: number; ms: number; outcomes: WriteOutcome[]; items: Array<SinkItem<I>> }) => void;
}

export class SinkWorker<I> {
  private buffer: Array<SinkItem<I>> = [];
  private timer: TimerHandle | null = null;
  /** The window closed; set before telling ourselves, so a flush lost to a full mailbox still happens. */
  private flushDue = false;
  tellSelf: (m: SinkWorkerMsg<I>) => void = () => undefined;

  constructor(readonly deps: SinkWorkerDeps<I>) {}

  get buffered(): number {
    return this.buffer.length;
  }

  async receive(msg: SinkWorkerMsg<I>): Promise<void> {
    if (msg.type === 'sink.items') {
      this.buffer.push(...msg.items);
      // Full batches go now; a remainder waits for more items or the window (a tiny bulk costs as much as a full one).
      let wrote = false;
      while (this.buffer.length >= this.deps.batchSize) {
        await this.write(this.buffer.splice(0, this.deps.batchSize));
        wrote = true;
      }
      // The window counts from the last write: what arrived while a write was in flight gets a full window to
      // grow into a full batch, instead of being flushed half-empty by a window that closed meanwhile.
      if (wrote) this.rearm();
      else if (this.flushDue) return this.flush();
      else if (this.buffer.length > 0 && this.timer === null) this.arm();
      return;
    }
    await this.flush();
  }

  private arm(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = null;
      this.flushDue = true;
      this.tellSelf({ type: 'sink.flush' }); // may find the mailbox full: then the next message flushes
    }, this.deps.batchWindowMs);
  }

  private rearm(): void {
    this.flushDue = false;
    if (this.timer !== null) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.buffer.length > 0) this.arm();
  }

  private async flush(): Promise<void> {
    this.flushDue = false;
    if (this.timer !== null) {
      this.deps.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.buffer.length > 0) await this.write(this.buffer.splice(0, this.deps.batchSize));
  }

  private async write(batch: Array<SinkItem<I>>): Promise<void> {
    const { deps } = this;
    const items = batch.filter((it) => it.live());
    if (items.length === 0) return;
    // One write per key: the newest carries the others (external versions make the older ones stale anyway).
    const keepers: Array<SinkItem<I>> = [];
    const riders = new Map<SinkItem<I>, Array<SinkItem<I>>>();
    if (deps.target.coalesce) {
      const newest = new Map<string, SinkItem<I>>();
      for (const it of items) {
        if (it.key === undefined) {
          keepers.push(it);
          continue;
        }
        const cur = newest.get(it.key);
        if (!cur || (it.version ?? 0n) > (cur.version ?? 0n)) newest.set(it.key, it);
      }
      keepers.push(...newest.values());
      for (const it of items) {
        if (it.key === undefined) continue;
        const keeper = newest.get(it.key)!;
        if (keeper === it) continue;
        let list = riders.get(keeper);
        if (!list) riders.set(keeper, (list = []));
        list.push(it);
      }
    } else keepers.push(...items);

    const started = deps.clock.now();
    const { outcomes, fatal } = await writeWithRetry(
      keepers.map((it) => ({ payload: it.payload, live: () => it.live() })),
      { target: deps.target, breaker: deps.breaker, clock: deps.clock, policy: deps.retry, signal: deps.signal, ...(deps.inspect ? { inspect: deps.inspect } : {}), ...(deps.onRetry ? { onRetry: deps.onRetry } : {}) },
    );
    keepers.forEach((it, i) => this.settle(it, riders.get(it) ?? [], outcomes[i]!));
    deps.onWrite?.({ size: keepers.length, ms: deps.clock.now() - started, outcomes, items: keepers });
    if (fatal !== undefined) throw fatal;
  }

  private settle(it: SinkItem<I>, riders: Array<SinkItem<I>>, o: WriteOutcome): void {
    const fail = (err: unknown) => [it, ...riders].forEach((x) => x.fail(err));
    const finish = (how: 'written' | 'stale' | 'dead-lettered') => {
      it.done(how);
      riders.forEach((x) => x.done('superseded'));
    };
    switch (o.kind) {
      case 'written':
      case 'stale':
        return finish(o.kind);
      case 'held':
      case 'dropped':
        return fail(new Error(o.kind === 'held' ? o.reason : 'dropped'));
      case 'failed': {
        const r = it.record;
        this.deps.logger.warn({ sink: this.deps.target.name, partition: r.partition, offset: r.offset, class: o.errorClass, code: o.code, reason: o.message, attempts: o.attempts }, 'dead-lettering a record the sink could not write');
        this.deps.dlq
          .send({
            source: { topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value, headers: r.headers },
            consumer: this.deps.consumer,
            errorClass: o.errorClass,
            code: o.code,
            message: o.message,
            attempts: o.attempts,
            firstFailureAt: o.firstFailureAt,
            lastFailureAt: o.lastFailureAt,
          })
          .then(() => finish('dead-lettered'), fail);
        return;
      }
    }
  }

  /** The actor crashed or stopped: everything buffered is failed so the consumer re-delivers it. */
  failAll(err: unknown): void {
    if (this.timer !== null) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    for (const it of this.buffer.splice(0)) it.fail(err);
  }
}

export function sinkWorkerSpec<I>(worker: SinkWorker<I>, opts: { name: string; kind: string; mailboxCapacity: number; policy?: Policy<SinkWorkerMsg<I>> }): ActorSpec<null, SinkWorkerMsg<I>> {
  return {
    name: opts.name,
    kind: opts.kind,
    init: () => {
      worker.failAll(new Error(`${opts.name} restarted`));
      return null;
    },
    receive: async (state, msg) => {
      await worker.receive(msg);
      return state;
    },
    ...(opts.policy ? { policy: opts.policy } : {}),
    mailboxCapacity: opts.mailboxCapacity,
    onDropped: (msg, err) => {
      if (msg.type === 'sink.items') msg.items.forEach((it) => it.fail(err));
    },
  };
}
