// Shard writer: one per logical shard. Batches commands by size and time window, applies a batch in one
// set-based transaction (last writer wins by log position), then acks each command once its commit LSN is
// replayed on a replica. Its buffer lives outside the actor state so a crash fails it instead of losing it.
import type { AssocWrite } from '../../adapters/pg/port.ts';
import type { BackoffPolicy } from '../../lib/backoff.ts';
import { classify } from '../../lib/classify.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { commandTime } from '../../lib/command.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { DeadLetterSink } from '../dlq/dead-letter.ts';
import type { ActorSpec } from '../runtime/system.ts';
import { applyWithRetry } from './apply.ts';
import type { BatchApplier } from './group-commit.ts';
import type { InspectionBus } from '../../machines/inspection.ts';
import type { ShardWriterMsg, WriteItem } from './messages.ts';
import type { ReplicationWatcher } from './replication-watcher.ts';

export interface ShardWriterDeps {
  shard: number;
  cluster: string;
  /** The cluster's group committer (or the store itself). */
  store: BatchApplier;
  replication: ReplicationWatcher;
  dlq: DeadLetterSink;
  clock: Clock;
  logger: Logger;
  backoff: BackoffPolicy;
  batchSize: number;
  batchWindowMs: number;
  signal: AbortSignal;
  topic: string;
  consumer: string;
  onBatch?: (info: { shard: number; size: number; changed: number; ms: number }) => void;
  onApplied?: (items: WriteItem[], commitLsn: string) => void;
  /** An apply attempt failed and is being retried / an apply worked: "can this cluster take writes" (the hold). */
  onApplyFailed?: (err: unknown) => void;
  onApplyOk?: () => void;
  /** The retry telemetry of the apply's retry machine. */
  inspect?: Pick<InspectionBus, 'publish'>;
}

export class ShardWriter {
  private buffer: WriteItem[] = [];
  private timer: TimerHandle | null = null;
  /** Set once the actor exists: the flush timer tells it to flush (false: the mailbox is full). */
  tellSelf: (m: ShardWriterMsg) => boolean = () => false;

  constructor(readonly deps: ShardWriterDeps) {}

  get buffered(): number {
    return this.buffer.length;
  }

  async receive(msg: ShardWriterMsg): Promise<void> {
    switch (msg.type) {
      case 'shard.write':
        this.buffer.push(...msg.items);
        if (this.buffer.length >= this.deps.batchSize) await this.flush();
        else if (this.timer === null) this.armWindow();
        return;
      case 'shard.flush':
        await this.flush();
        return;
      case 'topology.promoted':
        this.deps.logger.info({ cluster: msg.cluster }, 'cluster promoted: writes go to the new primary');
        return;
    }
  }

  /** The batch window: when it ends, flush; a flush refused by a full mailbox is tried again one window later. */
  private armWindow(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = null;
      if (this.buffer.length > 0 && !this.tellSelf({ type: 'shard.flush' })) this.armWindow();
    }, this.deps.batchWindowMs);
  }

  private async flush(): Promise<void> {
    if (this.timer !== null) {
      this.deps.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.buffer.length > 0) {
      const items = this.buffer.splice(0, this.deps.batchSize);
      try {
        await this.applyItems(items);
      } catch (err) {
        // Out of the buffer, not applied: fail them so the ingest re-delivers, then crash as the policy says.
        for (const it of items) it.fail(err);
        throw err;
      }
    }
  }

  private async applyItems(items: WriteItem[]): Promise<void> {
    const { deps } = this;
    const started = deps.clock.now();
    const writes: AssocWrite[] = items.map((it) => ({
      shard: it.shard,
      entity: it.command.entity,
      tag: it.command.tag,
      attached: it.command.op === 'attach',
      partition: it.command.partition,
      offset: it.command.offset,
      at: commandTime(it.command),
    }));
    const epoch = deps.replication.epoch;
    const outcome = await applyWithRetry(writes, { store: deps.store, clock: deps.clock, logger: deps.logger, backoff: deps.backoff, signal: deps.signal, wake: () => deps.replication.topologySignal, detail: `${deps.cluster}:shard-${deps.shard}`, ...(deps.inspect ? { inspect: deps.inspect } : {}), ...(deps.onApplyFailed ? { onRetry: deps.onApplyFailed } : {}) });
    deps.onApplyOk?.();
    const poisoned = new Set(outcome.poisoned.map((p) => p.index));
    for (const p of outcome.poisoned) {
      const item = items[p.index]!;
      const now = deps.clock.now();
      const c = classify(p.error);
      const code = (p.error as { code?: unknown })?.code;
      deps.dlq
        .send({
          source: { topic: deps.topic, partition: item.command.partition, offset: item.command.offset, key: item.command.entity, value: JSON.stringify(stripPosition(item.command)) },
          consumer: deps.consumer,
          errorClass: c.class,
          code: typeof code === 'string' ? code : c.source,
          message: errorMessage(p.error),
          attempts: 1,
          firstFailureAt: now,
          lastFailureAt: now,
        })
        .then(
          () => item.ack(),
          (err: unknown) => item.fail(err),
        );
    }
    const applied = poisoned.size === 0 ? items : items.filter((_, i) => !poisoned.has(i));
    if (!outcome.result || applied.length === 0) return;
    const { commitLsn, changed } = outcome.result;
    deps.onBatch?.({ shard: deps.shard, size: applied.length, changed, ms: deps.clock.now() - started });
    const a = { shard: deps.shard, cluster: deps.cluster, commitLsn, changed: changed > 0 }; // one per batch: every item is this shard's
    for (const it of applied) it.onApplied?.(a);
    deps.onApplied?.(applied, commitLsn);
    if (deps.logger.isLevelEnabled('debug')) deps.logger.debug({ shard: deps.shard, commitLsn, timeline: outcome.result.commitTimeline ?? null, epoch, positions: applied.map((it) => `${it.command.partition}/${it.command.offset}`).join(' ') }, 'batch applied; waiting for its replication proof');
    // Pipelined: the next batch applies while this one's replication is confirmed.
    deps.replication.waitFor(commitLsn, epoch, outcome.result.commitTimeline).then(
      () => {
        for (const it of applied) it.ack();
      },
      (err: unknown) => {
        for (const it of applied) it.fail(err);
      },
    );
  }

  /** The actor crashed or stopped: everything buffered is failed so the ingest re-drives it. */
  failAll(err: unknown): void {
    if (this.timer !== null) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    const items = this.buffer.splice(0);
    for (const it of items) it.fail(err);
  }
}

function stripPosition(c: WriteItem['command']): Omit<WriteItem['command'], 'partition' | 'offset'> {
  const { partition: _p, offset: _o, ...rest } = c;
  return rest;
}

/** The actor spec of a shard writer; `policy` comes from the supervisor's configuration. */
export function shardWriterSpec(writer: ShardWriter, opts: { mailboxCapacity: number; policy: ActorSpec<null, ShardWriterMsg>['policy'] }): ActorSpec<null, ShardWriterMsg> {
  return {
    name: `shard-${String(writer.deps.shard).padStart(2, '0')}`,
    kind: 'shard-writer',
    init: () => {
      writer.failAll(new Error('shard writer restarted'));
      return null;
    },
    receive: async (state, msg) => {
      await writer.receive(msg);
      return state;
    },
    ...(opts.policy ? { policy: opts.policy } : {}),
    mailboxCapacity: opts.mailboxCapacity,
    // The bound is on commands, not on envelopes.
    weight: (msg) => (msg.type === 'shard.write' ? msg.items.length : 1),
    onDropped: (msg, err) => {
      if (msg.type === 'shard.write') msg.items.forEach((it) => it.fail(err));
      writer.failAll(err);
    },
  };
}
