// Ingest: consumes `tag-commands`, validates each command at the edge (invalid → DLQ with the reason and its
// source position), routes valid ones to their shard writer (awaiting mailbox space: backpressure), and
// commits offsets only past records that are done (contract 3). A failed write or a promoted cluster rewinds
// every partition to its committed offset: idempotent writes make the re-delivery safe.
// With a hold (issue 17), a cluster that cannot take writes never stalls the others: its commands go to its
// hold topic (done once the hold topic has them), and no send waits longer than `maxSendWaitMs`.
import type { CommandLog, LogBatch, LogRecord, Subscription } from '../../adapters/kafka/port.ts';
import { validateCommand, shardOf, type CommandLimits, type PositionedCommand } from '../../lib/command.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { DeadLetterSink } from '../dlq/dead-letter.ts';
import { sendWithin } from '../hold/send-within.ts';
import type { ActorHandle } from '../runtime/system.ts';
import type { Applied, ShardWriterMsg, WriteItem } from '../shard-writer/messages.ts';
import { PartitionTracker, type TrackedOffset } from './offset-tracker.ts';
import { readCommitted } from './read-committed.ts';
import { ErrorCodes, errorMessage, TagstreamError } from '../../lib/errors.ts';
import type { InspectionBus } from '../../machines/inspection.ts';

export interface IngestDeps {
  log: CommandLog;
  topic: string;
  groupId: string;
  shardCount: number;
  limits: CommandLimits;
  writerFor: (shard: number) => ActorHandle<ShardWriterMsg>;
  dlq: DeadLetterSink;
  clock: Clock;
  logger: Logger;
  commitIntervalMs: number;
  onApplied?: (partition: number, offset: string, a: Applied) => void;
  onCommitted?: (partition: number, offset: bigint) => void;
  onInvalid?: (code: string) => void;
  signal: AbortSignal;
  hold?: IngestHold;
  /** Where the rewind's retries are reported (the dashboard's retry card). */
  inspect?: Pick<InspectionBus, 'publish'>;
}

/** The ingest's view of the hold board (actors/hold). */
export interface IngestHold {
  clusterOf: (shard: number) => string;
  /** Null: write directly; otherwise why the cluster's commands go to its hold topic. */
  holdReason: (cluster: string) => string | null;
  hold: (cluster: string, reason: string) => void;
  produce: (cluster: string, sources: Array<{ topic: string; partition: number; offset: string; key: string | null; value: string }>, reason: string) => Promise<void>;
  /**
   * A wait for a writer's mailbox space is given up after 3 × this (a fraction of the session timeout), or
   * after this if the cluster was found unwritable meanwhile: then the cluster is held.
   */
  maxSendWaitMs: number;
}

/**
 * The ingest's supervised actor (./ingest-actor.ts): delivered batches and commit ticks go through its mailbox,
 * so a defect in either crashes the actor, which its supervisor restarts (then `restarted()`).
 */
export interface IngestMailbox {
  /** A delivered batch and the generation it was delivered in; settles once it is routed (or dropped). */
  batch(batch: LogBatch, generation: number): Promise<void>;
  commit(): void;
}

export class Ingest {
  private sub: Subscription | null = null;
  private via: IngestMailbox | null = null;
  private trackers = new Map<number, PartitionTracker>();
  private committed = new Map<number, bigint>();
  private generation = 0;
  private commitTimer: TimerHandle | null = null;
  private rewinding: Promise<void> | null = null;
  /** Why the rewind under way was asked for. */
  private rewindReason = '';
  private draining = false;
  /** Per cluster, commands handed to its writers and not yet acked: diverted to the hold topic when it is held. */
  private outstanding = new Map<string, Set<IngestItem>>();
  /** Partitions the consumer has delivered from, for lag and status. */
  readonly positions = new Map<number, bigint>();

  /** The command topic's partitions this member consumes now (its whole assignment after each rebalance). */
  private assigned = new Set<number>();
  constructor(private readonly deps: IngestDeps) {}

  /** True while this member consumes `partition` (its writers, and so its applied bus, see its commands). */
  consumes(partition: number): boolean {
    return this.assigned.has(partition);
  }

  /** Joins the group; with `via` (the ingest actor) every batch and commit tick is a message to it. */
  async start(via?: IngestMailbox): Promise<void> {
    this.via = via ?? null;
    this.sub = await this.deps.log.subscribe({
      groupId: this.deps.groupId,
      topics: [this.deps.topic],
      fromBeginning: true,
      // The generation is the one the batch is delivered in (a rewind or rebalance after it makes it stale).
      eachBatch: (b) => (this.via ? this.via.batch(b, this.generation) : this.handleBatch(b, this.generation)),
      onAssign: (a) => {
        this.assigned = new Set(a.filter((x) => x.topic === this.deps.topic).map((x) => x.partition));
        this.resetTrackers();
      },
    });
    this.scheduleCommit();
  }

  private resetTrackers(): void {
    this.generation++;
    this.trackers.clear();
    this.outstanding.clear();
  }

  /**
   * After the ingest actor crashed and was restarted: nothing it tracked is trusted (a batch may have been
   * half-routed), so every partition is read again from its committed offset in a new generation.
   */
  restarted(): void {
    void this.rewind('the ingest actor restarted after a crash');
  }

  /**
   * One batch delivered in generation `gen`: validated, routed to the writers (or the hold topic); throws only on
   * a defect. A batch delivered before a rewind's seek or a rebalance predates it and is dropped: its records
   * come again, and applied in the new generation they would seed the tracker above the re-read window.
   */
  async handleBatch(batch: LogBatch, gen: number): Promise<void> {
    if (this.draining) return;
    if (this.rewinding) await this.rewinding;
    if (gen !== this.generation) return;
    const byShard = new Map<number, IngestItem[]>();
    const ctx: BatchContext = { settle: (p, e) => this.settle(gen, p, e), fail: (err) => this.failed(gen, err), applied: this.deps.onApplied };
    for (const rec of batch.records) {
      if (gen !== this.generation || this.draining) return; // rewound mid-batch: the records come again
      const offset = BigInt(rec.offset);
      let tracker = this.trackers.get(rec.partition);
      if (!tracker) {
        tracker = new PartitionTracker(offset);
        this.trackers.set(rec.partition, tracker);
      }
      let entry: TrackedOffset;
      try {
        entry = tracker.track(offset);
      } catch {
        continue; // already tracked in this generation (a redelivered batch)
      }
      this.positions.set(rec.partition, offset);
      const v = validateCommand(rec.value, this.deps.limits, rec.key);
      if (!v.ok) {
        this.deps.onInvalid?.(v.code);
        this.deadLetter(rec, v.code, v.message).then(() => ctx.settle(rec.partition, entry), ctx.fail);
        continue;
      }
      const c = v.command;
      const shard = shardOf(c.entity, this.deps.shardCount);
      const command: PositionedCommand = { id: c.id, op: c.op, entity: c.entity, tag: c.tag, actor: c.actor, at: c.at, partition: rec.partition, offset: rec.offset };
      const item = new IngestItem(command, shard, entry, ctx, rec.key, rec.value!);
      let list = byShard.get(shard);
      if (!list) byShard.set(shard, (list = []));
      list.push(item);
    }
    if (this.deps.hold) return this.route(gen, byShard, this.deps.hold);
    for (const [shard, items] of byShard) {
      if (gen !== this.generation) return;
      await this.deps.writerFor(shard).send({ type: 'shard.write', items }, this.deps.signal);
    }
  }

  /** Hold, don't block: a held cluster's commands go to its hold topic; a full mailbox is waited for only briefly. */
  private async route(gen: number, byShard: Map<number, IngestItem[]>, hold: IngestHold): Promise<void> {
    const held = new Map<string, { reason: string; items: IngestItem[] }>();
    for (let [shard, items] of byShard) {
      if (gen !== this.generation) return;
      const cluster = hold.clusterOf(shard);
      let reason = held.get(cluster)?.reason ?? hold.holdReason(cluster);
      // However the hold began, what its writers still have (stuck behind it) goes to the hold topic too.
      if (reason !== null && !held.has(cluster)) this.divert(cluster, reason, hold);
      // A writer its supervisor stopped for good takes nothing: its cluster is held (its commands wait on the
      // hold topic) rather than the whole ingest failing on every batch that has a command for it.
      if (reason === null && this.deps.writerFor(shard).info().status === 'stopped') {
        reason = `shard ${shard}: writer stopped by its supervisor`;
        hold.hold(cluster, reason);
        this.divert(cluster, reason, hold);
      }
      if (reason === null) {
        const writer = this.deps.writerFor(shard);
        const msg = { type: 'shard.write' as const, items };
        let set = this.outstanding.get(cluster);
        if (!set) this.outstanding.set(cluster, (set = new Set()));
        for (const it of items) it.trackIn(set);
        const waited = writer.tell(msg) ? null : await this.waitForSpace(writer, msg, cluster, hold);
        if (waited === null) continue;
        // A divert while we waited (another batch's, or the commit tick's) already moved some to the hold topic.
        const left = items.filter((it) => it.tracked);
        for (const it of left) it.untrack();
        if (gen !== this.generation) return;
        reason = waited || `shard ${shard}: writer mailbox full for ${3 * hold.maxSendWaitMs} ms`;
        hold.hold(cluster, reason);
        this.divert(cluster, reason, hold);
        items = left;
      }
      let h = held.get(cluster);
      if (!h) held.set(cluster, (h = { reason, items: [] }));
      h.items.push(...items);
    }
    for (const [cluster, h] of held) this.holdItems(cluster, h.items, h.reason, hold);
  }

  /**
   * Waits for space, never past 3 × maxSendWaitMs (a fraction of the session timeout); between rounds, gives up
   * at once if the cluster was found unwritable meanwhile. Null: sent; otherwise why to hold ('' = mailbox full).
   */
  private async waitForSpace(writer: ActorHandle<ShardWriterMsg>, msg: ShardWriterMsg, cluster: string, hold: IngestHold): Promise<string | null> {
    for (let round = 0; round < 3; round++) {
      try {
        if (await sendWithin(writer, msg, hold.maxSendWaitMs, this.deps.clock, this.deps.signal)) return null;
      } catch (err) {
        if (err instanceof TagstreamError && err.code === ErrorCodes.ACTOR_STOPPED) return `${writer.path}: writer stopped by its supervisor`;
        throw err;
      }
      const reason = hold.holdReason(cluster);
      if (reason !== null) return reason;
    }
    return '';
  }

  /** Produces commands to the cluster's hold topic; each is done (its offset may commit) once it is there. */
  private holdItems(cluster: string, items: IngestItem[], reason: string, hold: IngestHold): void {
    if (items.length === 0) return;
    const sources = items.map((it) => ({ topic: this.deps.topic, partition: it.command.partition, offset: it.command.offset, key: it.key, value: it.raw }));
    hold.produce(cluster, sources, reason).then(
      () => {
        for (const it of items) it.held();
      },
      (err: unknown) => items[0]!.fail(err),
    );
  }

  /**
   * A cluster held since its last batch (found unwritable by the hold board, or its writes unproven for too long)
   * may get no new batch for a while: what its writers still have goes to the hold topic at the commit tick, so
   * its offsets, and every later one of the same partitions, commit without waiting for traffic.
   */
  private divertHeld(): void {
    const hold = this.deps.hold;
    if (!hold || this.rewinding || this.draining) return;
    for (const [cluster, set] of this.outstanding) {
      if (set.size === 0) continue;
      const reason = hold.holdReason(cluster);
      if (reason !== null) this.divert(cluster, reason, hold);
    }
  }

  /** The cluster was just held: what its writers still have (stuck behind it) goes to the hold topic too. */
  private divert(cluster: string, reason: string, hold: IngestHold): void {
    const set = this.outstanding.get(cluster);
    if (!set || set.size === 0) return;
    const items = [...set];
    set.clear();
    for (const it of items) it.untrack();
    this.deps.logger.warn({ cluster, commands: items.length }, 'commands stuck with a held cluster\'s writers go to its hold topic as well');
    this.holdItems(cluster, items, reason, hold);
  }

  private deadLetter(rec: LogRecord, code: string, message: string): Promise<void> {
    const now = this.deps.clock.now();
    this.deps.logger.warn({ partition: rec.partition, offset: rec.offset, code, reason: message }, 'invalid command dead-lettered');
    return this.deps.dlq.send({ source: rec, consumer: this.deps.groupId, errorClass: 'poison', code, message, attempts: 0, firstFailureAt: now, lastFailureAt: now });
  }

  private settle(gen: number, partition: number, entry: TrackedOffset): void {
    if (gen !== this.generation) return;
    this.trackers.get(partition)?.settle(entry);
  }

  private failed(gen: number, err: unknown): void {
    if (gen !== this.generation || this.draining) return;
    this.deps.logger.warn({ err }, 'a write did not complete; re-delivering from the committed offsets');
    void this.rewind('write failed').catch((e: unknown) => this.deps.logger.error({ err: e }, 'rewind failed'));
  }

  /**
   * Re-deliver every partition from its committed offset (after a failed write or a promotion). Never rejects:
   * reading the committed offsets is retried (the retry machine, kind ingest-rewind) until it succeeds or the
   * daemon stops — a rewind that gave up after clearing the trackers, without its seek, would skip records.
   */
  rewind(reason: string): Promise<void> {
    if (this.rewinding) {
      // One under way seeks after this request (it reads the committed offsets, then seeks): it serves this one too.
      // Said in the log under this reason as well: an operator looking for the promotion's rewind finds it.
      const under = this.rewindReason;
      return this.rewinding.then(() => this.deps.logger.warn({ reason, joined: under }, 'rewound to committed offsets'));
    }
    this.rewindReason = reason;
    this.rewinding = (async () => {
      this.generation++;
      this.trackers.clear();
      this.outstanding.clear();
      const read = await readCommitted(async () => ({ committed: await this.deps.log.committed(this.deps.groupId, this.deps.topic), partitions: await this.deps.log.partitionCount(this.deps.topic) }), {
        kind: 'ingest-rewind',
        clock: this.deps.clock,
        signal: this.deps.signal,
        ...(this.deps.inspect ? { inspect: this.deps.inspect } : {}),
        onRetry: (err, retryInMs) => this.deps.logger.warn({ err: errorMessage(err), retryInMs, reason }, 'rewind: the committed offsets could not be read; retrying'),
      });
      if (!read.ok) return; // stopping
      const { committed, partitions } = read.value;
      // Batches handed over while we awaited the offsets came from the old position: a new generation starts
      // with the seek (same tick), so that only deliveries from the seek position are applied in it.
      this.generation++;
      this.trackers.clear();
      for (let p = 0; p < partitions; p++) {
        const offset = committed.get(p) ?? '0';
        this.sub?.seek(this.deps.topic, p, offset);
      }
      this.deps.logger.warn({ reason, committed: Object.fromEntries(committed) }, 'rewound to committed offsets');
    })().finally(() => {
      this.rewinding = null;
    });
    return this.rewinding;
  }

  /** The next commit tick, a commit interval from now (a message to the ingest actor when there is one). */
  scheduleCommit(): void {
    if (this.commitTimer !== null || this.deps.signal.aborted || !this.sub || this.draining) return;
    this.commitTimer = this.deps.clock.setTimeout(() => {
      this.commitTimer = null;
      if (this.via) this.via.commit();
      else void this.commitTick();
    }, this.deps.commitIntervalMs);
  }

  /** The periodic commit: a failed commit is retried at the next tick. */
  async commitTick(): Promise<void> {
    try {
      this.divertHeld();
      await this.commitNow().catch((err: unknown) => this.deps.logger.warn({ err }, 'offset commit failed; will retry'));
    } finally {
      this.scheduleCommit();
    }
  }

  /** Commits every partition whose done-watermark moved. */
  async commitNow(): Promise<void> {
    if (!this.sub || this.rewinding) return;
    const gen = this.generation;
    const offsets: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const [p, t] of this.trackers) {
      const c = t.committable();
      if (c > (this.committed.get(p) ?? -1n)) offsets.push({ topic: this.deps.topic, partition: p, offset: c.toString() });
    }
    if (offsets.length === 0) return;
    await this.sub.commit(offsets);
    if (gen !== this.generation) return;
    for (const o of offsets) {
      this.committed.set(o.partition, BigInt(o.offset));
      this.deps.onCommitted?.(o.partition, BigInt(o.offset));
    }
  }

  inFlight(): number {
    let n = 0;
    for (const t of this.trackers.values()) n += t.inFlight();
    return n;
  }

  committedOffsets(): Map<number, bigint> {
    return new Map(this.committed);
  }

  /** SIGTERM: stop taking records, wait (bounded) for in-flight ones, commit what is safe, stop. */
  async drain(deadlineMs: number, waitTick: (ms: number) => Promise<void>): Promise<void> {
    this.draining = true;
    const until = this.deps.clock.now() + deadlineMs;
    while (this.inFlight() > 0 && this.deps.clock.now() < until) await waitTick(10);
    await this.commitNow().catch((err: unknown) => this.deps.logger.warn({ err }, 'final commit failed: replay will cover it'));
    if (this.commitTimer !== null) this.deps.clock.clearTimeout(this.commitTimer);
    await this.sub?.stop();
    this.sub = null;
  }
}

/** What the items of one delivered batch share: one set of callbacks per batch, not three closures per record. */
interface BatchContext {
  settle: (partition: number, entry: TrackedOffset) => void;
  fail: (err: unknown) => void;
  applied: IngestDeps['onApplied'];
}

/** A command on its way to its shard writer; reports back to the ingest that delivered it. */
class IngestItem implements WriteItem {
  private inSet: Set<IngestItem> | null = null;
  /** In the hold topic: done, whatever its writer does with it later (it is applied twice at most, idempotently). */
  private isHeld = false;

  constructor(
    readonly command: PositionedCommand,
    readonly shard: number,
    private readonly entry: TrackedOffset,
    private readonly ctx: BatchContext,
    readonly key: string | null,
    /** The original bytes (a held command keeps them). */
    readonly raw: string,
  ) {}

  trackIn(set: Set<IngestItem>): void {
    this.inSet = set;
    set.add(this);
  }

  /** With its writers, in its cluster's outstanding set (not yet acked, nor diverted). */
  get tracked(): boolean {
    return this.inSet !== null;
  }

  untrack(): void {
    this.inSet?.delete(this);
    this.inSet = null;
  }

  held(): void {
    this.isHeld = true;
    this.ctx.settle(this.command.partition, this.entry);
  }

  ack(): void {
    this.untrack();
    this.ctx.settle(this.command.partition, this.entry);
  }

  fail(err: unknown): void {
    this.untrack();
    if (this.isHeld) return;
    this.ctx.fail(err);
  }

  onApplied(a: Applied): void {
    this.ctx.applied?.(this.command.partition, this.command.offset, a);
  }
}
