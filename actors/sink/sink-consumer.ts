// The consuming half of a sink: its own consumer group on the command topic. Each record is transformed and
// handed to the pool worker of its partition (awaiting mailbox space: backpressure); offsets are committed
// only past records that are finished (written, stale, superseded or dead-lettered), with the same
// PartitionTracker as the writers' ingest. Partitions are paused for two reasons: the dependency's breaker is
// open (hold), or a write failed and the consumer backs off before re-delivering from the committed offsets.
// Resuming always seeks to the committed offsets first: whatever was fetched meanwhile comes again.
// The rewind is a run of the retry machine (kind 'sink-rewind', ../../machines/retry/session.ts): a failed
// write (or a failed resume) fails the attempt, the machine backs off, its next attempt resumes; committed
// progress ends the run, so the next failure backs off from the start again.
import type { CommandLog, LogBatch, Subscription } from '../../adapters/kafka/port.ts';
import type { BackoffPolicy } from '../../lib/backoff.ts';
import { classify } from '../../lib/classify.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { InspectionBus } from '../../machines/inspection.ts';
import { retryEveryError, startRetrySession, type RetrySession } from '../../machines/retry/session.ts';
import { PartitionTracker } from '../ingest/offset-tracker.ts';
import type { ActorHandle } from '../runtime/system.ts';
import type { ItemDone, SinkItem, SinkWorkerMsg } from './messages.ts';
import type { SinkTarget, SourceRecord } from './target.ts';

export interface SinkConsumerDeps<I> {
  log: CommandLog;
  topic: string;
  groupId: string;
  target: SinkTarget<I>;
  workerFor: (partition: number) => ActorHandle<SinkWorkerMsg<I>>;
  clock: Clock;
  logger: Logger;
  commitIntervalMs: number;
  signal: AbortSignal;
  random?: () => number;
  /** Back-off before re-delivering (config retryLoops.sinkRewind); default: today's constants. */
  rewind?: BackoffPolicy;
  inspect?: Pick<InspectionBus, 'publish'>;
  onDone?: (how: ItemDone | 'skipped', item: { partition: number; offset: string; timestamp: number }) => void;
  onCommitted?: (partition: number, offset: bigint) => void;
}

/** Back-off before re-delivering after a failed write, growing while failures repeat without progress. */
export const defaultRewindBackoff: BackoffPolicy = { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 0.2 };

export type PauseReason = 'breaker' | 'rewind';

/** Records handed to a worker at once before I/O gets a turn. */
const CHUNK = 256;

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One record in flight: its completion reports to the consumer generation that delivered it. */
class TrackedItem<I> implements SinkItem<I> {
  constructor(
    private readonly consumer: SinkConsumer<I>,
    private readonly gen: number,
    readonly record: SourceRecord,
    private readonly offset: bigint,
    readonly payload: I,
    readonly key: string | undefined,
    readonly version: bigint | undefined,
  ) {}

  live(): boolean {
    return this.consumer.isLive(this.gen);
  }

  done(how: ItemDone): void {
    this.consumer.itemDone(this.gen, this.record, this.offset, how);
  }

  fail(err: unknown): void {
    this.consumer.itemFailed(this.gen, err);
  }
}

export class SinkConsumer<I> {
  private sub: Subscription | null = null;
  private partitions: number[] = [];
  private trackers = new Map<number, PartitionTracker>();
  private committed = new Map<number, bigint>();
  private generation = 0;
  private pauses = new Set<PauseReason>();
  /** The retry machine's run while writes fail without progress; null while nothing fails. */
  private rewinding: RetrySession | null = null;
  /** Offsets were committed since the run's last attempt started. */
  private progressed = false;
  private readonly stopRewind = new AbortController();
  private commitTimer: TimerHandle | null = null;
  private draining = false;
  private resuming: Promise<void> | null = null;
  /** Highest offset delivered per partition (status). */
  readonly positions = new Map<number, bigint>();

  constructor(private readonly deps: SinkConsumerDeps<I>) {}

  async start(): Promise<void> {
    this.partitions = Array.from({ length: await this.deps.log.partitionCount(this.deps.topic) }, (_, p) => p);
    this.sub = await this.deps.log.subscribe({
      groupId: this.deps.groupId,
      topics: [this.deps.topic],
      fromBeginning: true,
      eachBatch: (b) => this.onBatch(b),
      onAssign: () => this.newGeneration(),
    });
    // A pause requested before the subscription existed (the breaker opened during start) takes effect now.
    if (this.pauses.size > 0) this.sub.pause(this.deps.topic, this.partitions);
    this.scheduleCommit();
  }

  private newGeneration(): void {
    this.generation++;
    this.trackers.clear();
  }

  private async onBatch(batch: LogBatch): Promise<void> {
    if (this.draining || this.pauses.size > 0) return; // re-delivered from the committed offset on resume
    const gen = this.generation;
    const worker = this.deps.workerFor(batch.partition);
    const records = batch.records;
    for (let from = 0; from < records.length; from += CHUNK) {
      // A fetched batch can hold thousands of records: hand them over in chunks and let I/O (the workers'
      // write responses) run in between, so a long batch never stalls the writes for tens of milliseconds.
      if (from > 0) await yieldToIo();
      if (gen !== this.generation || this.draining || this.pauses.size > 0) return;
      const items: Array<SinkItem<I>> = [];
      for (let i = from; i < Math.min(records.length, from + CHUNK); i++) {
        const rec = records[i]!;
        const offset = BigInt(rec.offset);
        let tracker = this.trackers.get(rec.partition);
        if (!tracker) this.trackers.set(rec.partition, (tracker = new PartitionTracker(offset)));
        try {
          tracker.track(offset);
        } catch {
          continue; // already tracked in this generation (a batch delivered again)
        }
        const t = this.deps.target.transform(rec);
        if (t.kind === 'skip') {
          tracker.done(offset);
          this.deps.onDone?.('skipped', rec);
          continue;
        }
        items.push(new TrackedItem(this, gen, rec, offset, t.payload, t.key, t.version));
      }
      this.positions.set(batch.partition, BigInt(records[Math.min(records.length, from + CHUNK) - 1]!.offset));
      if (items.length > 0) await worker.send({ type: 'sink.items', items }, this.deps.signal);
    }
  }

  /** @internal TrackedItem */
  isLive(gen: number): boolean {
    return gen === this.generation && this.pauses.size === 0 && !this.deps.signal.aborted;
  }

  /** @internal TrackedItem */
  itemDone(gen: number, rec: SourceRecord, offset: bigint, how: ItemDone): void {
    if (gen !== this.generation) return;
    this.trackers.get(rec.partition)?.done(offset);
    this.deps.onDone?.(how, rec);
  }

  /** @internal TrackedItem */
  itemFailed(gen: number, err: unknown): void {
    this.failed(gen, err);
  }

  private failed(gen: number, err: unknown): void {
    if (gen !== this.generation || this.draining || this.pauses.size > 0) return;
    this.pause('rewind');
    this.rewindLater(err);
  }

  /** The attempt in flight failed, or (nothing failing yet) a run of the retry machine starts with `err`. */
  private rewindLater(err: unknown): void {
    if (this.rewinding) return this.rewinding.backingOff ? undefined : this.rewinding.fail(err);
    this.progressed = false;
    const session: RetrySession = startRetrySession(err, {
      kind: 'sink-rewind',
      detail: this.deps.groupId,
      policy: { ...(this.deps.rewind ?? defaultRewindBackoff), retries: Number.POSITIVE_INFINITY },
      clock: this.deps.clock,
      classify: retryEveryError(classify),
      signal: AbortSignal.any([this.deps.signal, this.stopRewind.signal]),
      ...(this.deps.random ? { random: this.deps.random } : {}),
      ...(this.deps.inspect ? { inspect: this.deps.inspect } : {}),
      onRetry: ({ error, delayMs }) => this.deps.logger.warn({ err: error, retryInMs: delayMs }, 'a write did not finish; re-delivering from the committed offsets after a back-off'),
      resume: () => {
        // Committed progress while backing off ends the run (the next failure backs off from the start).
        if (this.progressed) this.endRewind();
        this.progressed = false;
        void this.unpause('rewind');
      },
      onEnd: () => {
        if (this.rewinding === session) this.rewinding = null;
      },
    });
    this.rewinding = session;
  }

  private endRewind(): void {
    const run = this.rewinding;
    this.rewinding = null;
    run?.succeed();
  }

  /** Stops delivery (commits what is finished first); every item in flight stops being live. */
  pause(reason: PauseReason): void {
    const first = this.pauses.size === 0;
    this.pauses.add(reason);
    if (!first) return;
    void this.commitNow().catch((err: unknown) => this.deps.logger.debug({ err }, 'commit before pausing failed'));
    this.newGeneration();
    this.sub?.pause(this.deps.topic, this.partitions);
    this.deps.logger.info({ reason }, 'partitions paused');
  }

  /** Lifts one reason; when none is left, seeks every partition to its committed offset and resumes. */
  async unpause(reason: PauseReason): Promise<void> {
    if (!this.pauses.delete(reason) || this.pauses.size > 0 || this.draining) return;
    const run = (async () => {
      const committed = await this.deps.log.committed(this.deps.groupId, this.deps.topic);
      if (this.pauses.size > 0 || !this.sub) return; // paused again meanwhile
      this.newGeneration();
      for (const p of this.partitions) {
        const at = committed.get(p);
        if (at !== undefined) this.sub.seek(this.deps.topic, p, at);
        else this.sub.seek(this.deps.topic, p, '0'); // nothing committed: from the beginning, like a new group
      }
      this.sub.resume(this.deps.topic, this.partitions);
      this.deps.logger.info({ reason, committed: Object.fromEntries(committed) }, 'partitions resumed from the committed offsets');
    })();
    this.resuming = run.catch((err: unknown) => {
      // Kafka itself is unreachable: the pause stays in place, and the retry machine tries again.
      this.deps.logger.warn({ err }, 'resuming failed; retrying');
      this.pauses.add('rewind');
      if (!this.draining) this.rewindLater(err);
    });
    await this.resuming;
  }

  isPaused(): boolean {
    return this.pauses.size > 0;
  }

  pauseReasons(): PauseReason[] {
    return [...this.pauses];
  }

  private scheduleCommit(): void {
    this.commitTimer = this.deps.clock.setTimeout(() => {
      this.commitTimer = null;
      this.commitNow()
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'offset commit failed; will retry'))
        .finally(() => {
          if (!this.deps.signal.aborted && this.sub && !this.draining) this.scheduleCommit();
        });
    }, this.deps.commitIntervalMs);
  }

  /** Commits every partition whose finished-watermark moved. */
  async commitNow(): Promise<void> {
    if (!this.sub) return;
    const offsets: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const [p, t] of this.trackers) {
      const c = t.committable();
      if (c > (this.committed.get(p) ?? -1n)) offsets.push({ topic: this.deps.topic, partition: p, offset: c.toString() });
    }
    if (offsets.length === 0) return;
    await this.sub.commit(offsets);
    this.progressed = true;
    if (this.rewinding && !this.rewinding.backingOff) this.endRewind(); // the re-delivery made progress
    for (const o of offsets) {
      const c = BigInt(o.offset);
      if (c <= (this.committed.get(o.partition) ?? -1n)) continue;
      this.committed.set(o.partition, c);
      this.deps.onCommitted?.(o.partition, c);
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

  /** Shutdown: stop taking records, wait (bounded) for in-flight ones, commit what is finished, leave the group. */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    const until = this.deps.clock.now() + deadlineMs;
    while (this.inFlight() > 0 && this.deps.clock.now() < until && this.pauses.size === 0) await new Promise<void>((r) => this.deps.clock.setTimeout(() => r(), 10));
    await this.commitNow().catch((err: unknown) => this.deps.logger.warn({ err }, 'final commit failed: replay will cover it'));
    if (this.commitTimer !== null) this.deps.clock.clearTimeout(this.commitTimer);
    this.commitTimer = null;
    this.stopRewind.abort('draining');
    await this.resuming?.catch(() => undefined);
    await this.sub?.stop();
    this.sub = null;
  }
}
