// The hold board: which clusters are held and why. A cluster is held when it cannot take writes (its failover
// machine is not healthy, its writes are failing, or its writers' mailboxes stayed full past the ingest's
// bound), and stays held while its hold topic has more than `releaseBelow` commands in it; its commands go
// to the hold topic meanwhile. Every `pollMs` it measures each hold topic (depth from the end offsets and the
// re-feeder group's committed offsets: the same answer in every daemon, contract 11), and starts, suspends
// or stops the cluster's re-feeder.
import type { CommandLog } from '../../adapters/kafka/port.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { heldMessage, heldPosition, type HeldSource } from './hold-topic.ts';

export interface Writability {
  ok: boolean;
  reason?: string;
}

/** What the board drives for each cluster (the re-feeder). */
export interface DrainControl {
  readonly running: boolean;
  readonly isSuspended: boolean;
  /** When the hold-topic record at (partition, offset) was held, if this re-feeder has read it and not committed past it. */
  heldAtOf?(partition: number, offset: string): number | undefined;
  /** Held commands it has not read yet (its read position, not its committed one). */
  unread(ends: Map<number, string>, committed: Map<number, string>): number;
  start(): Promise<void>;
  suspend(reason?: string): void;
  resume(): void;
  stop(): Promise<void>;
  /** What it is doing (assigned and paused partitions, positions), shown under the cluster's hold status. */
  status?(): unknown;
}

export interface HoldConfig {
  enabled: boolean;
  /** A cluster with full mailboxes that applied nothing for this long is stuck (held), not slow. */
  stallMs: number;
  pollMs: number;
  releaseBelow: number;
}

export interface HoldBoardDeps {
  log: CommandLog;
  clusters: string[];
  holdTopic: (cluster: string) => string;
  drainGroup: (cluster: string) => string;
  drain: (cluster: string) => DrainControl;
  config: HoldConfig;
  /** Why the cluster's writers cannot take more now (e.g. a full mailbox), or null; counts only while it makes no progress. */
  congested?: (cluster: string) => string | null;
  /**
   * Why the cluster's writes cannot be proven replicated now (contract 3: their offsets cannot commit), or null.
   * Asked whatever the cluster applies: a lone primary applies fast and commits nothing.
   */
  unreplicated?: (cluster: string) => string | null;
  clock: Clock;
  logger: Logger;
  /** Commands produced to a hold topic. */
  onHeld?: (cluster: string, n: number) => void;
  /** After every measurement of a cluster. */
  onMeasured?: (s: ClusterHold) => void;
}

export interface ClusterHold {
  cluster: string;
  held: boolean;
  /** Why the cluster is held now (or was last held): the hold's first reason until a measurement finds another. */
  reason: string | null;
  since: number | null;
  /** Commands in the hold topic not yet re-fed and replicated (null: not measured yet). */
  depth: number | null;
  /**
   * Age of the oldest command still held (seconds; 0 when empty): from the hold time of the record at the drain
   * group's committed offset of each partition. Until that record has been read (the local re-feeder's, else a
   * background read of one record, at most every 5 s per partition), the previous oldest record's time stands
   * in (an upper bound), else the hold's start.
   */
  ageSeconds: number;
  /** Whether the cluster can take writes now, and if not why. */
  writable: Writability;
  draining: boolean;
  heldTotal: number;
}

/** A write path failing this long (no success between) makes the cluster unwritable: one retried deadlock does not. */
const FAILING_FOR_MS = 1_000;
/**
 * An unwritable cluster is held: new commands go to its hold topic and its re-feeder is suspended, so nothing is
 * applied to it unless a writer is still retrying. Once no failure came for this long, it is writable on trial
 * (the re-feeder resumes): a success clears the mark, the next failure makes it unwritable again at once. A trial
 * does not release the hold: only once a write of the trial worked do new commands go to the writers again.
 */
export const WRITES_TRIAL_AFTER_MS = 5_000;
const PROBE_CACHE_MS = 50;
/** A hold partition's oldest record is read from the log at most this often (each read is a throwaway consumer). */
const OLDEST_READ_EVERY_MS = 5_000;

export class HoldBoard {
  private readonly state = new Map<string, ClusterHold>();
  private readonly lastOk = new Map<string, number>();
  private readonly probed = new Map<string, { at: number; w: Writability }>();
  private readonly failing = new Map<string, { since: number; last: number; error: string }>();
  /** Per cluster on trial: the drain group's committed offsets (summed) when the trial was first measured. */
  private readonly trialFrom = new Map<string, bigint>();
  private writableProbe: (cluster: string) => Writability = () => ({ ok: true });
  private timer: TimerHandle | null = null;
  private stopped = false;
  private polling: Promise<void> | null = null;
  /** Per cluster and hold partition: the hold time of the record at an offset (the last committed one read). */
  private readonly oldest = new Map<string, Map<number, { offset: string; heldAt: number }>>();
  private readonly reading = new Set<string>();
  private readonly lastRead = new Map<string, number>();
  /** Per cluster, when this board first saw its hold topic non-empty (the stand-in of last resort). */
  private readonly nonEmptySince = new Map<string, number>();

  constructor(private readonly deps: HoldBoardDeps) {
    for (const c of deps.clusters) this.state.set(c, { cluster: c, held: false, reason: null, since: null, depth: null, ageSeconds: 0, writable: { ok: true }, draining: false, heldTotal: 0 });
  }

  get enabled(): boolean {
    return this.deps.config.enabled;
  }

  /** The composition root plugs in the failover machines' view once they exist. */
  setWritableProbe(probe: (cluster: string) => Writability): void {
    this.writableProbe = probe;
  }

  /** A shard writer's apply failed (the write path's breaker signal) or worked again. */
  noteApplyFailed(cluster: string, err: unknown): void {
    const now = this.deps.clock.now();
    const f = this.failing.get(cluster);
    if (!f) this.failing.set(cluster, { since: now, last: now, error: errorMessage(err) });
    else {
      f.last = now;
      f.error = errorMessage(err);
      this.probed.delete(cluster); // a failure during a trial ends it now, not after the probe cache
    }
  }

  noteApplyOk(cluster: string): void {
    if (this.failing.size > 0) this.failing.delete(cluster);
    this.lastOk.set(cluster, this.deps.clock.now());
  }

  /** Writes failed and none has worked since, but none failed lately either: writable only to try (see above). */
  private onTrial(cluster: string): boolean {
    const f = this.failing.get(cluster);
    return !!f && this.deps.clock.now() - f.last >= WRITES_TRIAL_AFTER_MS;
  }

  /**
   * A trial's write may be another daemon's: the drain group is shared, so a re-feeder elsewhere that applied and
   * replicated held commands commits past them. Committed offsets that moved during the trial end it as a success.
   */
  private trialProgress(cluster: string, committed: Map<number, string>): void {
    if (!this.onTrial(cluster)) {
      this.trialFrom.delete(cluster);
      return;
    }
    let sum = 0n;
    for (const o of committed.values()) sum += BigInt(o);
    const from = this.trialFrom.get(cluster);
    if (from === undefined) {
      this.trialFrom.set(cluster, sum);
      const f = this.failing.get(cluster);
      this.deps.logger.info({ cluster, lastError: f?.error, quietMs: f ? this.deps.clock.now() - f.last : undefined }, 'writes stopped failing: trying the cluster through the re-feeder; it stays held until a re-fed write works');
    } else if (sum > from) {
      this.deps.logger.info({ cluster, committed: String(sum - from) }, 'held commands applied during the trial: the cluster takes writes again');
      this.trialFrom.delete(cluster);
      this.noteApplyOk(cluster);
    }
  }

  /** The cluster applied something within the last `withinMs`: slow, not stuck. */
  progressing(cluster: string, withinMs: number): boolean {
    const at = this.lastOk.get(cluster);
    return at !== undefined && this.deps.clock.now() - at <= withinMs;
  }

  writable(cluster: string): Writability {
    const now = this.deps.clock.now();
    const f = this.failing.get(cluster);
    if (f && now - f.since >= FAILING_FOR_MS && now - f.last < WRITES_TRIAL_AFTER_MS) return { ok: false, reason: `writes failing: ${f.error}` };
    // Asked for every batch: the probe's answer is kept for a moment.
    const cached = this.probed.get(cluster);
    if (cached && now - cached.at < PROBE_CACHE_MS) return cached.w;
    let w: Writability;
    try {
      w = this.writableProbe(cluster);
      const congested = w.ok && !this.progressing(cluster, this.deps.config.stallMs) ? (this.deps.congested?.(cluster) ?? null) : null;
      if (congested) w = { ok: false, reason: congested };
      const unreplicated = w.ok ? (this.deps.unreplicated?.(cluster) ?? null) : null;
      if (unreplicated) w = { ok: false, reason: unreplicated };
    } catch (err) {
      w = { ok: false, reason: `writability unknown: ${errorMessage(err)}` };
    }
    this.probed.set(cluster, { at: now, w });
    return w;
  }

  /** Null when the cluster takes writes directly; otherwise why its commands go to its hold topic. */
  holdReason(cluster: string): string | null {
    if (!this.deps.config.enabled) return null;
    const s = this.state.get(cluster);
    if (!s) return null;
    if (s.held) return s.reason;
    const w = this.writable(cluster);
    if (!w.ok) {
      this.hold(cluster, w.reason ?? 'not writable');
      return s.reason;
    }
    return null;
  }

  isHeld(cluster: string): boolean {
    return this.state.get(cluster)?.held ?? false;
  }

  /** Held, or its hold topic still has commands to re-feed: what the cluster's reads answer may be behind. */
  behind(cluster: string): boolean {
    const s = this.state.get(cluster);
    return !!s && (s.held || (s.depth ?? 0) > 0);
  }

  /** Starts holding `cluster` (no-op if it already is). */
  hold(cluster: string, reason: string): void {
    const s = this.state.get(cluster);
    if (!s || s.held || !this.deps.config.enabled) return;
    s.held = true;
    s.reason = reason;
    s.since = this.deps.clock.now();
    this.deps.logger.warn({ cluster, reason }, 'cluster held: its commands go to its hold topic; every other cluster keeps writing');
  }

  /** Produces held commands (acks=all); resolves once the hold topic has them. */
  async produce(cluster: string, sources: HeldSource[], reason: string): Promise<void> {
    if (sources.length === 0) return;
    const at = this.deps.clock.now();
    await this.deps.log.produce(
      this.deps.holdTopic(cluster),
      sources.map((s) => heldMessage(s, cluster, reason, at)),
    );
    const s = this.state.get(cluster);
    if (s) s.heldTotal += sources.length;
    this.deps.onHeld?.(cluster, sources.length);
  }

  async ensureTopics(partitions: number, ensure: (topic: string, partitions: number) => Promise<void>): Promise<void> {
    for (const c of this.deps.clusters) await ensure(this.deps.holdTopic(c), partitions);
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = null;
      this.polling = this.pollOnce()
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'measuring the hold topics failed; will retry'))
        .finally(() => {
          this.polling = null;
          this.schedule(this.deps.config.pollMs);
        });
    }, ms);
  }

  /** One measurement of every cluster, and what follows from it. */
  async pollOnce(): Promise<void> {
    for (const cluster of this.deps.clusters) {
      if (this.stopped) return;
      await this.measure(cluster);
    }
  }

  private async measure(cluster: string): Promise<void> {
    const s = this.state.get(cluster)!;
    const topic = this.deps.holdTopic(cluster);
    const [ends, committed] = await Promise.all([this.deps.log.endOffsets(topic), this.deps.log.committed(this.deps.drainGroup(cluster), topic)]);
    let depth = 0;
    for (const [p, end] of ends) depth += Math.max(0, Number(BigInt(end) - BigInt(committed.get(p) ?? '0')));
    const now = this.deps.clock.now();
    s.depth = depth;
    this.trialProgress(cluster, committed);
    const before = s.writable;
    s.writable = this.writable(cluster);
    if (s.held && (before.ok !== s.writable.ok || before.reason !== s.writable.reason)) {
      this.deps.logger.info({ cluster, writable: s.writable.ok, reason: s.writable.reason, depth }, s.writable.ok ? 'held cluster writable again' : 'held cluster not writable');
    }
    // Why it is held now (a hold begun during a promotion may go on because the new primary has no replica).
    if (s.held && !s.writable.ok && s.writable.reason) s.reason = s.writable.reason;
    const drain = this.deps.drain(cluster);
    s.ageSeconds = this.ageOf(cluster, ends, committed, drain, s.since, now);

    // What is still to catch up: a running re-feeder's unread commands (those with the writers, waiting for
    // replication, are as good as applied for ordering); else everything not committed.
    const backlog = drain.running && !drain.isSuspended ? Math.min(depth, drain.unread(ends, committed)) : depth;
    if (this.deps.config.enabled && !s.held && backlog > this.deps.config.releaseBelow) this.hold(cluster, `hold topic not drained yet (${backlog} commands)`);
    if (!s.writable.ok) {
      this.hold(cluster, s.writable.reason ?? 'not writable');
      if (drain.running) drain.suspend(s.writable.reason);
    } else {
      if (depth > 0) {
        if (!drain.running) await drain.start();
        drain.resume();
      } else if (drain.running && !s.held) await drain.stop();
      // Only a hold older than this measurement's view, and only if the cluster is still writable now: a hold
      // begun while we awaited the log or the re-feeder's start has reasons this view did not see. Not on trial:
      // the re-feeder tries the cluster, new commands wait in the hold topic until one of its writes worked.
      if (s.held && backlog <= this.deps.config.releaseBelow && (s.since ?? now) <= now && this.writable(cluster).ok && !this.onTrial(cluster)) {
        this.deps.logger.warn({ cluster, depth, backlog, heldForMs: now - (s.since ?? now) }, 'hold released: commands go straight to the writers again (the re-feeder drains the rest)');
        s.held = false;
        s.since = null;
      }
    }
    s.draining = drain.running && !drain.isSuspended;
    this.deps.onMeasured?.({ ...s });
  }

  /** Seconds since the oldest record still in the hold topic was held (see ClusterHold.ageSeconds). */
  private ageOf(cluster: string, ends: Map<number, string>, committed: Map<number, string>, drain: DrainControl, since: number | null, now: number): number {
    let known = this.oldest.get(cluster);
    if (!known) this.oldest.set(cluster, (known = new Map()));
    let oldestAt = Infinity;
    let unknown = false;
    for (const [p, end] of ends) {
      const from = committed.get(p) ?? '0';
      if (BigInt(end) <= BigInt(from)) {
        known.delete(p);
        continue;
      }
      const local = drain.heldAtOf?.(p, from);
      const cached = known.get(p);
      if (local !== undefined) known.set(p, { offset: from, heldAt: local });
      else if (cached?.offset !== from) this.readOldest(cluster, p, from);
      const at = local ?? cached?.heldAt;
      if (at === undefined) unknown = true;
      else oldestAt = Math.min(oldestAt, at);
    }
    if (oldestAt === Infinity && !unknown) {
      this.nonEmptySince.delete(cluster);
      return 0;
    }
    if (!this.nonEmptySince.has(cluster)) this.nonEmptySince.set(cluster, now);
    if (unknown) oldestAt = Math.min(oldestAt, since ?? now, this.nonEmptySince.get(cluster)!);
    return Math.max(0, (now - oldestAt) / 1000);
  }

  /** Reads the record at a committed offset in the background (one per partition at a time), for its hold time. */
  private readOldest(cluster: string, partition: number, offset: string): void {
    const key = `${cluster}/${partition}`;
    const now = this.deps.clock.now();
    if (this.reading.has(key) || this.stopped || now - (this.lastRead.get(key) ?? -Infinity) < OLDEST_READ_EVERY_MS) return;
    this.reading.add(key);
    this.lastRead.set(key, now);
    this.deps.log
      .read(this.deps.holdTopic(cluster), partition, offset, 1)
      .then((recs) => {
        const rec = recs[0];
        if (rec) this.oldest.get(cluster)?.set(partition, { offset, heldAt: heldPosition(rec)?.heldAt ?? rec.timestamp });
      })
      .catch((err: unknown) => this.deps.logger.debug({ err, cluster, partition }, 'reading the oldest held record failed; will retry'))
      .finally(() => this.reading.delete(key));
  }

  status(): Record<string, ClusterHold & { drain?: unknown }> {
    return Object.fromEntries([...this.state].map(([c, s]) => [c, { ...s, writable: s.held || !s.writable.ok ? s.writable : this.writable(c), drain: this.deps.drain(c).status?.() }]));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
    for (const c of this.deps.clusters) await this.deps.drain(c).stop();
  }
}
