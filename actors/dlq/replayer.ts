// The DLQ replayer: re-drives dead letters to the consumer that failed them, on a schedule and on demand,
// rate-limited. Progress is the committed offset of its own consumer group on the DLQ topic, so a record is
// handled once: re-driven, or (failing again) re-appended with one more x-replays, or — after maxReplays, or
// when nothing can re-drive it — moved to the parking topic with an alert. While a target's dependency is
// down (its breaker open) the pass stops before that record and leaves the rest for later.
import type { CommandLog, LogRecord, Subscription } from '../../adapters/kafka/port.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { RateLimiter } from '../../lib/rate-limiter.ts';
import { parkedHeaders, replayFailedHeaders, sourceOf, viewOf, type DeadLetterView } from './dlq-record.ts';
import { routeFor, type RedriveRoutes } from './redrive.ts';

export interface DlqReplayerDeps {
  log: CommandLog;
  dlqTopic: string;
  parkingTopic: string;
  /** The replayer's own consumer group on the DLQ topic: its committed offset is "handled up to here". */
  groupId: string;
  routes: RedriveRoutes;
  clock: Clock;
  logger: Logger;
  ratePerSec: number;
  maxReplays: number;
  signal: AbortSignal;
  /** Records just parked: log, count, page someone. */
  alert?: (parked: DeadLetterView[]) => void;
  onOutcome?: (outcome: RecordOutcome) => void;
  /** A pass that sees no record for this long before reaching the end gives up (Kafka trouble). */
  idleTimeoutMs?: number;
}

export type RecordOutcome = 'replayed' | 'failed' | 'parked' | 'held' | 'skipped';

export interface PassOptions {
  /** 'replay' re-drives; 'park' moves the pending records to the parking topic without trying. */
  action?: 'replay' | 'park';
  dryRun?: boolean;
  /** Only dead letters written at or after this time (ms); with it, already-handled ones are re-driven too. */
  since?: number;
  limit?: number;
}

export interface PassResult {
  action: 'replay' | 'park';
  dryRun: boolean;
  replayed: number;
  /** Failed again: re-appended to the DLQ with x-replays + 1. */
  failed: number;
  parked: number;
  /** Stopped before these: a target's dependency is down. */
  held: number;
  skipped: number;
  /** Pending records left after the pass. */
  remaining: number;
  /** Dry run: what would be done with each record. */
  plan?: Array<DeadLetterView & { targets: string[] }>;
  stoppedBecause?: string;
}

type Handled = { outcome: RecordOutcome; parked?: DeadLetterView; reason?: string };

export class DlqReplayer {
  private readonly limiter: RateLimiter;
  private readonly logger: Logger;

  constructor(private readonly deps: DlqReplayerDeps) {
    this.limiter = new RateLimiter(deps.ratePerSec, deps.clock);
    this.logger = deps.logger.child({ component: 'dlq-replayer' });
  }

  /** Pending dead letters: end offset minus the replayer's committed offset, summed over partitions. */
  async depth(): Promise<number> {
    const [ends, committed] = await Promise.all([this.deps.log.endOffsets(this.deps.dlqTopic), this.deps.log.committed(this.deps.groupId, this.deps.dlqTopic)]);
    let n = 0;
    for (const [p, end] of ends) n += Math.max(0, Number(end) - Number(committed.get(p) ?? 0));
    return n;
  }

  /** Records of the DLQ (pending ones, or all) or of the parking topic, oldest first. */
  async list(opts: { limit?: number; all?: boolean; parked?: boolean; since?: number } = {}): Promise<DeadLetterView[]> {
    const topic = opts.parked ? this.deps.parkingTopic : this.deps.dlqTopic;
    const limit = opts.limit ?? 100;
    const [ends, committed] = await Promise.all([this.deps.log.endOffsets(topic), opts.parked || opts.all || opts.since !== undefined ? Promise.resolve(new Map<number, string>()) : this.deps.log.committed(this.deps.groupId, topic)]);
    const out: DeadLetterView[] = [];
    for (const [p, end] of ends) {
      const from = Number(committed.get(p) ?? 0);
      const n = Number(end) - from;
      if (n <= 0) continue;
      for (const rec of await this.deps.log.read(topic, p, String(from), n)) {
        if (opts.since !== undefined && rec.timestamp < opts.since) continue;
        out.push(viewOf(rec));
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  async pass(opts: PassOptions = {}): Promise<PassResult> {
    const action = opts.action ?? 'replay';
    const result: PassResult = { action, dryRun: opts.dryRun === true, replayed: 0, failed: 0, parked: 0, held: 0, skipped: 0, remaining: 0 };
    if (opts.dryRun) return this.plan(opts, result);
    const { log, dlqTopic, groupId } = this.deps;
    const [ends, committed] = await Promise.all([log.endOffsets(dlqTopic), log.committed(groupId, dlqTopic)]);
    const start = new Map<number, bigint>();
    const end = new Map<number, bigint>();
    for (const [p, e] of ends) {
      const from = opts.since !== undefined ? 0n : BigInt(committed.get(p) ?? '0');
      if (BigInt(e) > from) {
        start.set(p, from);
        end.set(p, BigInt(e));
      }
    }
    if (end.size === 0) return result;

    const queue: LogRecord[] = [];
    let wake: (() => void) | null = null;
    const next = new Map(start);
    let sub: Subscription | null = null;
    sub = await log.subscribe({
      groupId,
      topics: [dlqTopic],
      fromBeginning: true,
      eachBatch: async (b) => {
        const stop = end.get(b.partition);
        if (stop === undefined) return;
        for (const r of b.records) if (BigInt(r.offset) < stop && BigInt(r.offset) >= (next.get(b.partition) ?? 0n)) queue.push(r);
        if (queue.length > 1_000) sub?.pause(dlqTopic, [b.partition]);
        wake?.();
      },
    });
    const parked: DeadLetterView[] = [];
    let sinceCommit = 0;
    const commit = async () => {
      const offsets = [...next]
        .filter(([p, o]) => o > BigInt(committed.get(p) ?? '0'))
        .map(([partition, o]) => ({ topic: dlqTopic, partition, offset: o.toString() }));
      if (offsets.length > 0) await sub!.commit(offsets);
      for (const o of offsets) committed.set(o.partition, o.offset);
      sinceCommit = 0;
    };
    try {
      if (opts.since !== undefined) {
        for (const p of end.keys()) sub.seek(dlqTopic, p, '0');
        queue.length = 0; // whatever came from the committed offsets comes again, in order, after the seek
      }
      let handled = 0;
      for (;;) {
        if ([...end].every(([p, e]) => (next.get(p) ?? 0n) >= e)) break;
        if (this.deps.signal.aborted) {
          result.stoppedBecause = 'shutting down';
          break;
        }
        if (opts.limit !== undefined && handled >= opts.limit) {
          result.stoppedBecause = `limit of ${opts.limit} reached`;
          break;
        }
        const rec = queue.shift();
        if (!rec) {
          sub.resume(dlqTopic, [...end.keys()]);
          if (!(await this.waitForRecords(() => queue.length > 0, (w) => (wake = w)))) {
            result.stoppedBecause = 'no records arrived before the end of the DLQ (Kafka unavailable?)';
            break;
          }
          continue;
        }
        const p = rec.partition;
        if (BigInt(rec.offset) < (next.get(p) ?? 0n)) continue; // delivered again
        if (opts.since !== undefined && rec.timestamp < opts.since) {
          result.skipped++;
          next.set(p, BigInt(rec.offset) + 1n);
          continue;
        }
        const h = action === 'park' ? await this.park(rec, 'parked by an operator') : await this.replayOne(rec);
        this.deps.onOutcome?.(h.outcome);
        if (h.outcome === 'held') {
          result.held++;
          result.stoppedBecause = h.reason ?? 'a target is unavailable';
          break;
        }
        handled++;
        if (h.outcome === 'replayed') result.replayed++;
        else if (h.outcome === 'failed') result.failed++;
        else if (h.outcome === 'parked') {
          result.parked++;
          if (h.parked) parked.push(h.parked);
        }
        next.set(p, BigInt(rec.offset) + 1n);
        if (++sinceCommit >= 50) await commit();
      }
      await commit();
    } finally {
      await sub.stop().catch((err: unknown) => this.logger.warn({ err }, 'leaving the replayer group failed'));
      if (parked.length > 0) this.deps.alert?.(parked);
    }
    for (const [p, e] of end) result.remaining += Number(e - (next.get(p) ?? 0n) > 0n ? e - (next.get(p) ?? 0n) : 0n);
    this.logger.info({ ...result, plan: undefined }, 'DLQ pass done');
    return result;
  }

  private async replayOne(rec: LogRecord): Promise<Handled> {
    const view = viewOf(rec);
    const source = sourceOf(rec);
    if (!source) return this.park(rec, 'malformed dead letter: no source position in its headers');
    const targets = routeFor(this.deps.routes, view.consumer, view.code);
    if (targets.length === 0) return this.park(rec, `no re-drive target for consumer "${view.consumer}"`);
    await this.limiter.take(this.deps.signal);
    for (const t of targets) {
      let o;
      try {
        [o] = await t.redrive([source], this.deps.signal);
      } catch (err) {
        return { outcome: 'held', reason: `${t.name}: ${errorMessage(err)}` };
      }
      if (!o || o.kind === 'held' || o.kind === 'dropped') return { outcome: 'held', reason: o?.kind === 'held' ? o.reason : `${t.name}: not attempted` };
      if (o.kind === 'failed') {
        const replays = view.replays + 1;
        const why = `${t.name}: ${o.code}: ${o.message}`;
        if (replays >= this.deps.maxReplays) return this.park(rec, `failed ${replays} replay(s); last: ${why}`);
        await this.deps.log.produce(this.deps.dlqTopic, [{ key: rec.key, value: rec.value ?? '', headers: replayFailedHeaders(rec, { errorClass: o.errorClass, code: o.code, message: o.message, attempts: o.attempts, at: this.deps.clock.now() }) }]);
        this.logger.warn({ dlqOffset: rec.offset, source: view.source, target: t.name, code: o.code, replays }, 'replay failed; the dead letter goes back to the DLQ');
        return { outcome: 'failed' };
      }
    }
    this.logger.info({ dlqOffset: rec.offset, source: view.source, targets: targets.map((t) => t.name) }, 'dead letter re-driven');
    return { outcome: 'replayed' };
  }

  private async park(rec: LogRecord, reason: string): Promise<Handled> {
    const at = this.deps.clock.now();
    await this.deps.log.produce(this.deps.parkingTopic, [{ key: rec.key, value: rec.value ?? '', headers: parkedHeaders(rec, reason, at) }]);
    this.logger.error({ dlqOffset: rec.offset, source: viewOf(rec).source, reason }, 'dead letter parked: it needs a human');
    return { outcome: 'parked', parked: { ...viewOf(rec), parkedAt: new Date(at).toISOString(), parkedReason: reason } };
  }

  private async plan(opts: PassOptions, result: PassResult): Promise<PassResult> {
    const views = await this.list({ limit: opts.limit ?? 1_000, ...(opts.since !== undefined ? { since: opts.since } : {}) });
    result.plan = views.map((v) => ({
      ...v,
      targets: opts.action === 'park' ? ['parking'] : routeFor(this.deps.routes, v.consumer, v.code).map((t) => t.name),
    }));
    result.remaining = await this.depth();
    return result;
  }

  private waitForRecords(ready: () => boolean, setWake: (w: (() => void) | null) => void): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: TimerHandle | null = null;
      const done = (ok: boolean) => {
        setWake(null);
        if (timer !== null) this.deps.clock.clearTimeout(timer);
        this.deps.signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = () => done(false);
      timer = this.deps.clock.setTimeout(() => done(false), this.deps.idleTimeoutMs ?? 30_000);
      this.deps.signal.addEventListener('abort', onAbort, { once: true });
      setWake(() => done(true));
    });
  }
}
