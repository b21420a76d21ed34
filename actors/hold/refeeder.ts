// Re-feeder: drains one cluster's hold topic into that cluster's shard writers once it is writable again.
// Its own consumer group; each held command is applied with its ORIGINAL (partition, offset), so last writer
// wins exactly as if it had never been held (contract 2); the hold topic's offsets are committed only past
// records that are applied and replicated (the writers' ack, as on the main path: contract 3). It never
// blocks inside a batch: it takes the prefix of a batch that its rate and the writers' free mailbox space
// allow, seeks back to the rest and pauses that partition for a moment.
import type { CommandLog, LogBatch, Subscription } from '../../adapters/kafka/port.ts';
import { validateCommand, shardOf, type CommandLimits, type PositionedCommand } from '../../lib/command.ts';
import { sleep, type Clock, type TimerHandle } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { DeadLetterSink } from '../dlq/dead-letter.ts';
import { PartitionTracker, type TrackedOffset } from '../ingest/offset-tracker.ts';
import type { ActorHandle } from '../runtime/system.ts';
import type { Applied, ShardWriterMsg, WriteItem } from '../shard-writer/messages.ts';
import { heldPosition } from './hold-topic.ts';
import { sendWithin } from './send-within.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { InspectionBus } from '../../machines/inspection.ts';
import { readCommitted } from '../ingest/read-committed.ts';
import { TokenBucket } from './token-bucket.ts';

export interface RefeederDeps {
  log: CommandLog;
  cluster: string;
  holdTopic: string;
  groupId: string;
  shardCount: number;
  limits: CommandLimits;
  writerFor: (shard: number) => ActorHandle<ShardWriterMsg>;
  dlq: DeadLetterSink;
  clock: Clock;
  logger: Logger;
  ratePerSec: number;
  commitIntervalMs: number;
  /** Keyed by the ORIGINAL position (the applied bus answers `?wait=applied` by it). */
  onApplied?: (partition: number, offset: string, a: Applied) => void;
  /** Commands handed to the writers (for the drain rate metric). */
  onRefed?: (n: number) => void;
  signal: AbortSignal;
  /** Where the rewind's retries are reported (the dashboard's retry card). */
  inspect?: Pick<InspectionBus, 'publish'>;
}

const RETRY_MS = 50;
/** Commands handed over per step (each step takes its tokens first). */
const CHUNK = 100;
/** Longest a batch is worked on before the rest is left for later (its group's session timeout is 10 s). */
const BUDGET_MS = 3_000;

export class Refeeder {
  private sub: Subscription | null = null;
  private trackers = new Map<number, PartitionTracker>();
  private committed = new Map<number, bigint>();
  private assigned: number[] = [];
  private generation = 0;
  private suspended = false;
  private stopped = false;
  private commitTimer: TimerHandle | null = null;
  private resumeTimers = new Map<number, TimerHandle>();
  private subscribed: Promise<void> = Promise.resolve();
  /** The rewind under way (reading the committed offsets, then seeking): batches and commits wait for its seek. */
  private rewinding: Promise<void> | null = null;
  /** Per hold partition, the next offset this re-feeder will read (what it handed over, not what is replicated). */
  private readPosition = new Map<number, bigint>();
  private readonly bucket: TokenBucket;
  /** Per hold partition, when each record read and not yet committed past had been held (the hold's age). */
  private heldAts = new Map<number, Map<string, number>>();
  /** Per hold partition, tracked records busy writers did not take (by hold offset), handed over when read again. */
  private notHandedOver = new Map<number, Map<bigint, TrackedOffset>>();
  refed = 0;

  constructor(private readonly deps: RefeederDeps) {
    this.bucket = new TokenBucket(deps.ratePerSec, Math.max(1, Math.ceil(deps.ratePerSec / 4)), deps.clock);
  }

  get running(): boolean {
    return this.sub !== null;
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  async start(): Promise<void> {
    if (this.sub || this.stopped) return;
    let resolve!: () => void;
    this.subscribed = new Promise<void>((r) => (resolve = r));
    this.sub = await this.deps.log.subscribe({
      groupId: this.deps.groupId,
      topics: [this.deps.holdTopic],
      fromBeginning: true,
      eachBatch: (b) => this.onBatch(b),
      onAssign: (a) => {
        this.generation++;
        this.trackers.clear();
        this.readPosition.clear();
        this.heldAts.clear();
        this.notHandedOver.clear();
        this.assigned = a.filter((x) => x.topic === this.deps.holdTopic).map((x) => x.partition);
        this.deps.logger.info({ cluster: this.deps.cluster, partitions: this.assigned, suspended: this.suspended }, 're-feeder assigned hold partitions');
        if (this.suspended) this.sub?.pause(this.deps.holdTopic, this.assigned);
        else this.resumeStale();
      },
    });
    resolve();
    if (this.suspended) this.sub.pause(this.deps.holdTopic, this.assigned);
    this.scheduleCommit();
    this.deps.logger.info({ cluster: this.deps.cluster, topic: this.deps.holdTopic }, 're-feeder started: draining the hold topic');
  }

  /** The cluster cannot take writes: stop feeding it (what is already with the writers stays there). */
  suspend(reason?: string): void {
    if (this.suspended) return;
    this.suspended = true;
    this.sub?.pause(this.deps.holdTopic, this.assigned);
    this.deps.logger.info({ cluster: this.deps.cluster, reason, partitions: this.assigned }, 're-feeder suspended: the cluster cannot take writes');
  }

  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    this.resumeStale();
    this.deps.logger.info({ cluster: this.deps.cluster, partitions: this.assigned }, 're-feeder resumed');
  }

  /** What this daemon's re-feeder is doing (for /status: an operator asks why a hold does not drain). */
  status(): RefeederStatus {
    return {
      running: this.running,
      suspended: this.suspended,
      assigned: [...this.assigned],
      paused: this.sub ? this.sub.paused().filter((x) => x.topic === this.deps.holdTopic).map((x) => x.partition) : [],
      readPositions: Object.fromEntries([...this.readPosition].map(([p, o]) => [p, o.toString()])),
      committed: Object.fromEntries([...this.committed].map(([p, o]) => [p, o.toString()])),
      inFlight: this.inFlight(),
      refed: this.refed,
    };
  }

  /**
   * Resumes every partition of the hold topic the subscription still has paused, but for a brief pause of ours
   * that has its own timer. A pause is kept across rebalances (the port's contract): a partition paused while it
   * was ours under an earlier assignment, handed back to us later, would otherwise stay paused for good — that
   * held a fleet's hold topic partition undrained (committed at 0) long after the cluster was writable again.
   */
  private resumeStale(): void {
    if (!this.sub) return;
    const stale = this.sub.paused().filter((x) => x.topic === this.deps.holdTopic && !this.resumeTimers.has(x.partition)).map((x) => x.partition);
    if (stale.length > 0) this.sub.resume(this.deps.holdTopic, stale);
  }

  private async onBatch(batch: LogBatch): Promise<void> {
    const gen = this.generation;
    const { deps } = this;
    const first = batch.records[0];
    if (!first) return;
    // A batch can arrive before subscribe() resolved: without the subscription we could not seek back what does
    // not fit. Wait for it briefly; else refuse the batch (the port delivers it again after a short back-off).
    if (!this.sub) await Promise.race([this.subscribed, sleep(deps.clock, 2_000, deps.signal).catch(() => undefined)]);
    if (!this.sub) throw new Error(`re-feeder of ${deps.cluster} is starting; the batch comes again`);
    // A batch handed over during a rewind was read before its seek: the seek wins and its records come again.
    // Applied in the rewind's generation, it would seed the tracker above the records still with the writers.
    if (this.rewinding) await this.rewinding;
    // A rebalance or a rewind while this batch waited: its position is not ours to set (the new generation reads
    // from the committed offsets; a seek to this batch's first offset could skip records below it).
    if (gen !== this.generation) return;
    if (this.suspended) {
      this.seekBack(batch.partition, first.offset, 'suspended');
      return;
    }
    // In chunks, at the bounded rate, waiting for the writers' mailbox space like the main path did — but never
    // longer than BUDGET_MS in one batch (the rest is read again after a pause: its group keeps its member).
    const started = deps.clock.now();
    const ctx = { settle: (p: number, e: TrackedOffset) => this.settle(gen, p, e), fail: (err: unknown) => this.failed(gen, err), applied: deps.onApplied };
    const records = batch.records;
    deps.logger.debug({ cluster: deps.cluster, partition: batch.partition, first: first.offset, last: records.at(-1)!.offset, generation: gen }, 're-feeder batch');
    let i = 0;
    while (i < records.length) {
      if (gen !== this.generation) return;
      if (this.suspended || this.stopped) {
        this.seekBack(batch.partition, records[i]!.offset, 'suspended mid-batch');
        return;
      }
      const allowed = this.bucket.take(Math.min(CHUNK, records.length - i));
      if (allowed === 0) {
        const wait = Math.max(1, this.bucket.msUntilNext());
        if (deps.clock.now() + wait - started > BUDGET_MS) {
          this.seekBack(batch.partition, records[i]!.offset, 'rate budget');
          this.pauseBriefly(batch.partition, Math.max(RETRY_MS, wait));
          return;
        }
        await sleep(deps.clock, wait, deps.signal);
        continue;
      }
      const chunk = records.slice(i, i + allowed);
      const byShard = [...this.itemsOf(chunk, ctx)];
      for (let k = 0; k < byShard.length; k++) {
        if (gen !== this.generation) return;
        const [shard, items] = byShard[k]!;
        const writer = deps.writerFor(shard);
        const msg = { type: 'shard.write' as const, items };
        const left = Math.max(RETRY_MS, BUDGET_MS - (deps.clock.now() - started));
        if (!writer.tell(msg) && !(await sendWithin(writer, msg, left, this.deps.clock, this.deps.signal))) {
          if (gen !== this.generation) return;
          // The writers are busy (slower than the drain, or failing again). What they took stays with them and
          // completes; what they did not take is handed over again when the partition is read from the first of
          // it, after a pause. Never a rewind here: it would throw away the work in the writers' mailboxes and,
          // with writers slower than the budget, start over forever.
          const notTaken = byShard.slice(k).flatMap(([, rest]) => rest);
          for (const item of notTaken) this.keepForResend(item);
          const from = notTaken.reduce((m, it) => (it.holdOffset < m ? it.holdOffset : m), notTaken[0]!.holdOffset);
          deps.logger.warn({ cluster: deps.cluster, shard, waiting: notTaken.length }, 're-feeder: the writers are busy; reading the rest again after a pause');
          this.seekBack(batch.partition, from.toString(), 'writers busy');
          this.pauseBriefly(batch.partition, 500);
          return;
        }
        this.refed += items.length;
        deps.onRefed?.(items.length);
      }
      i += allowed;
      this.readPosition.set(batch.partition, BigInt(chunk[chunk.length - 1]!.offset) + 1n);
    }
  }

  private seekBack(partition: number, offset: string, why: string): void {
    this.deps.logger.debug({ cluster: this.deps.cluster, partition, offset, why, generation: this.generation }, 're-feeder seeks back');
    this.sub?.seek(this.deps.holdTopic, partition, offset);
  }

  /** Tracks a chunk's records (in order) and builds their write items by shard; invalid ones go to the DLQ. */
  private itemsOf(chunk: LogBatch['records'], ctx: RefeedContext): Map<number, RefeedItem[]> {
    const { deps } = this;
    const byShard = new Map<number, RefeedItem[]>();
    for (const rec of chunk) {
      const v = validateCommand(rec.value, deps.limits, rec.key);
      const pos = heldPosition(rec);
      const offset = BigInt(rec.offset);
      let tracker = this.trackers.get(rec.partition);
      if (!tracker) {
        this.trackers.set(rec.partition, (tracker = new PartitionTracker(offset)));
        deps.logger.debug({ cluster: deps.cluster, partition: rec.partition, from: rec.offset, generation: this.generation, committed: this.committed.get(rec.partition)?.toString() ?? null }, 're-feeder tracks a hold partition from');
      }
      let entry: TrackedOffset;
      const again = this.notHandedOver.get(rec.partition)?.get(offset);
      if (again) {
        // Tracked before but not taken by busy writers: hand it over now.
        this.notHandedOver.get(rec.partition)!.delete(offset);
        const c = validateCommand(rec.value, deps.limits, rec.key);
        const p = heldPosition(rec);
        if (c.ok && p) {
          const command: PositionedCommand = { id: c.command.id, op: c.command.op, entity: c.command.entity, tag: c.command.tag, actor: c.command.actor, at: c.command.at, partition: p.partition, offset: p.offset };
          const shard = shardOf(c.command.entity, deps.shardCount);
          let list = byShard.get(shard);
          if (!list) byShard.set(shard, (list = []));
          list.push(new RefeedItem(command, shard, rec.partition, again, ctx));
        }
        continue;
      }
      try {
        entry = tracker.track(offset);
      } catch {
        continue; // already tracked in this generation (and with the writers)
      }
      let heldAts = this.heldAts.get(rec.partition);
      if (!heldAts) this.heldAts.set(rec.partition, (heldAts = new Map()));
      heldAts.set(rec.offset, pos?.heldAt ?? rec.timestamp);
      if (!v.ok || !pos) {
        // Only valid commands are held; anything else in a hold topic is not ours to apply.
        const now = deps.clock.now();
        const code = v.ok ? 'TS_ERR_HOLD_HEADERS' : v.code;
        deps.dlq
          .send({ source: rec, consumer: deps.groupId, errorClass: 'poison', code, message: v.ok ? 'held record without its source position' : v.message, attempts: 0, firstFailureAt: now, lastFailureAt: now })
          .then(() => ctx.settle(rec.partition, entry), ctx.fail);
        continue;
      }
      const c = v.command;
      const shard = shardOf(c.entity, deps.shardCount);
      const command: PositionedCommand = { id: c.id, op: c.op, entity: c.entity, tag: c.tag, actor: c.actor, at: c.at, partition: pos.partition, offset: pos.offset };
      let list = byShard.get(shard);
      if (!list) byShard.set(shard, (list = []));
      list.push(new RefeedItem(command, shard, rec.partition, entry, ctx));
    }
    return byShard;
  }

  /** A tracked item the writers did not take: handed over again when its record is read again (same generation). */
  private keepForResend(item: RefeedItem): void {
    let m = this.notHandedOver.get(item.holdPartition);
    if (!m) this.notHandedOver.set(item.holdPartition, (m = new Map()));
    m.set(item.holdOffset, item.entry);
  }

  /** When the record at (partition, offset) of the hold topic was held, if this re-feeder read it and has not committed past it. */
  heldAtOf(partition: number, offset: string): number | undefined {
    return this.heldAts.get(partition)?.get(offset);
  }

  /** Forgets the hold times of records committed past (they are no longer held). */
  private forgetBelow(partition: number, offset: bigint): void {
    const m = this.heldAts.get(partition);
    if (!m) return;
    // In offset order (tracked in order within a generation): stop at the first one still held.
    for (const k of m.keys()) {
      if (BigInt(k) >= offset) break;
      m.delete(k);
    }
  }

  /**
   * Held commands not yet read by this re-feeder (given each partition's end and committed offset): what the
   * hold still has to catch up, without the commands already with the writers waiting for replication.
   */
  unread(ends: Map<number, string>, committed: Map<number, string>): number {
    let n = 0n;
    for (const [p, end] of ends) {
      const pos = this.readPosition.get(p) ?? BigInt(committed.get(p) ?? '0');
      if (BigInt(end) > pos) n += BigInt(end) - pos;
    }
    return Number(n);
  }

  private pauseBriefly(partition: number, ms: number): void {
    if (this.resumeTimers.has(partition)) return;
    this.sub?.pause(this.deps.holdTopic, [partition]);
    this.resumeTimers.set(
      partition,
      this.deps.clock.setTimeout(() => {
        this.resumeTimers.delete(partition);
        if (!this.suspended && this.sub) this.sub.resume(this.deps.holdTopic, [partition]);
      }, ms),
    );
  }

  private settle(gen: number, partition: number, entry: TrackedOffset): void {
    if (gen !== this.generation) return;
    this.trackers.get(partition)?.settle(entry);
  }

  private failed(gen: number, err: unknown): void {
    if (gen !== this.generation || this.stopped) return;
    this.deps.logger.warn({ err, cluster: this.deps.cluster }, 'a re-fed write did not complete; re-reading the hold topic from its committed offsets');
    void this.rewind('write failed');
  }

  /**
   * Re-read every partition from the committed offset (a failed write, or the cluster was promoted). Batches
   * handed over meanwhile, and commits, wait for its seek; a rewind asked for while one is under way joins it.
   * Reading the committed offsets is retried (the retry machine, kind refeeder-rewind) until it works or the
   * daemon stops: a rewind that gave up after clearing the trackers, without its seek, would skip records.
   */
  rewind(reason: string): Promise<void> {
    if (!this.sub) return Promise.resolve();
    if (this.rewinding) return this.rewinding;
    this.rewinding = (async () => {
      this.generation++;
      this.trackers.clear();
      this.notHandedOver.clear();
      const read = await readCommitted(() => this.deps.log.committed(this.deps.groupId, this.deps.holdTopic), {
        kind: 'refeeder-rewind',
        detail: this.deps.cluster,
        clock: this.deps.clock,
        signal: this.deps.signal,
        ...(this.deps.inspect ? { inspect: this.deps.inspect } : {}),
        onRetry: (err, retryInMs) => this.deps.logger.warn({ cluster: this.deps.cluster, err: errorMessage(err), retryInMs, reason }, 're-feeder rewind: the committed offsets could not be read; retrying'),
      });
      if (!read.ok) return; // stopping
      const committed = read.value;
      // Batches handed over while we awaited the offsets came from the old position: a new generation starts with
      // the seek (same tick), so that only deliveries from the seek position are applied in it.
      this.generation++;
      this.trackers.clear();
      this.readPosition.clear();
      this.heldAts.clear();
      this.notHandedOver.clear();
      for (const p of this.assigned) this.sub?.seek(this.deps.holdTopic, p, committed.get(p) ?? '0');
      this.deps.logger.warn({ reason, cluster: this.deps.cluster, committed: Object.fromEntries(this.assigned.map((p) => [p, committed.get(p) ?? '0'])) }, 're-feeder rewound to its committed offsets');
    })().finally(() => {
      this.rewinding = null;
    });
    return this.rewinding;
  }

  private scheduleCommit(): void {
    this.commitTimer = this.deps.clock.setTimeout(() => {
      this.commitTimer = null;
      this.commitNow()
        .catch((err: unknown) => this.deps.logger.warn({ err, cluster: this.deps.cluster }, 're-feeder offset commit failed; will retry'))
        .finally(() => {
          if (!this.deps.signal.aborted && this.sub) this.scheduleCommit();
        });
    }, this.deps.commitIntervalMs);
  }

  async commitNow(): Promise<void> {
    // During a rewind the trackers describe nothing committable: the rewind reads the committed offsets and seeks.
    if (!this.sub || this.rewinding) return;
    const gen = this.generation;
    const offsets: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const [p, t] of this.trackers) {
      const c = t.committable();
      if (c > (this.committed.get(p) ?? -1n)) offsets.push({ topic: this.deps.holdTopic, partition: p, offset: c.toString() });
    }
    if (offsets.length === 0) return;
    await this.sub.commit(offsets);
    this.deps.logger.debug({ cluster: this.deps.cluster, offsets: offsets.map((o) => `${o.partition}:${o.offset}`).join(' '), generation: gen, now: this.generation }, 're-feeder committed');
    if (gen !== this.generation) return;
    for (const o of offsets) {
      this.committed.set(o.partition, BigInt(o.offset));
      this.forgetBelow(o.partition, BigInt(o.offset));
    }
  }

  inFlight(): number {
    let n = 0;
    for (const t of this.trackers.values()) n += t.inFlight();
    return n;
  }

  /** Commits what is safe and leaves the group (the hold is drained, or shutdown). */
  async stop(): Promise<void> {
    if (!this.sub) return;
    await this.commitNow().catch((err: unknown) => this.deps.logger.warn({ err }, 're-feeder final commit failed: the records are read again'));
    if (this.commitTimer !== null) this.deps.clock.clearTimeout(this.commitTimer);
    this.commitTimer = null;
    for (const t of this.resumeTimers.values()) this.deps.clock.clearTimeout(t);
    this.resumeTimers.clear();
    const sub = this.sub;
    this.sub = null;
    this.trackers.clear();
    this.committed.clear();
    this.readPosition.clear();
    this.heldAts.clear();
    this.notHandedOver.clear();
    this.generation++;
    await sub.stop();
  }
}

export interface RefeederStatus {
  running: boolean;
  suspended: boolean;
  /** Hold partitions this daemon's re-feeder owns in its group. */
  assigned: number[];
  /** Of those, the ones paused (suspended, a brief pause, or busy writers). */
  paused: number[];
  /** Per partition, the next hold offset it will read; and the offset it last committed. */
  readPositions: Record<string, string>;
  committed: Record<string, string>;
  /** Handed to the writers, not yet applied and replicated. */
  inFlight: number;
  /** Handed to the writers since start. */
  refed: number;
}

interface RefeedContext {
  settle: (partition: number, entry: TrackedOffset) => void;
  fail: (err: unknown) => void;
  applied: RefeederDeps['onApplied'];
}

/** A held command on its way to its shard writer: settles the hold topic's offset, reports its original position. */
class RefeedItem implements WriteItem {
  constructor(
    readonly command: PositionedCommand,
    readonly shard: number,
    readonly holdPartition: number,
    readonly entry: TrackedOffset,
    private readonly ctx: RefeedContext,
  ) {}

  get holdOffset(): bigint {
    return this.entry.offset;
  }

  ack(): void {
    this.ctx.settle(this.holdPartition, this.entry);
  }

  fail(err: unknown): void {
    this.ctx.fail(err);
  }

  onApplied(a: Applied): void {
    this.ctx.applied?.(this.command.partition, this.command.offset, a);
  }
}
