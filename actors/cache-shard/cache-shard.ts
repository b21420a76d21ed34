// One cache shard: a Redis instance behind its breaker, with a key epoch. Lookups and write-backs are direct
// calls on the read path (an actor mailbox hop would cost more than the Redis round trip); invalidations and
// health/epoch work arrive as messages to the shard's actor, one at a time. Every Redis call runs through the
// breaker with a tight deadline. Whenever the shard may have missed an invalidation — the breaker left closed,
// an invalidation failed or was dropped, the actor restarted, the epoch key vanished — it stops serving until
// it has moved to a new epoch whose floors are the clusters' WAL positions at that moment: nothing cached
// before the outage can be served after it.
import { randomBytes } from 'node:crypto';
import type { CacheStore } from '../../adapters/redis/port.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Breaker } from '../../machines/index.ts';
import type { BreakerState } from '../../machines/index.ts';
import {
  EPOCH_KEY, EPOCH_TTL_SECONDS, decodeEntity, decodePopular, encodeEntity, encodePopular, entityKey, floorKey, higherLsn, lsnAtLeast, popularKey,
  type PopularEntry,
} from './keys.ts';
import type { CacheShardMsg, Invalidation } from './messages.ts';

export interface CacheShardDeps {
  store: CacheStore;
  breaker: Breaker;
  clock: Clock;
  logger: Logger;
  /** Deadline of one Redis call on the read path. */
  timeoutMs: number;
  /**
   * Deadline of one invalidation (a batch of floors, written after a commit, off the read path). Looser than a
   * read's: an invalidation that gives up costs a whole new epoch (every cached entry), so a busy host that
   * answers late must not count as one that never answers.
   */
  invalidateTimeoutMs: number;
  ttlSeconds: number;
  popularTtlSeconds: number;
  /** Probes sent at once while half-open (the breaker's halfOpenProbes). */
  halfOpenProbes: number;
  /** Per cluster, a lower bound of its WAL position as of now: the floors of a new epoch. */
  epochFloors: () => Promise<Map<string, string>>;
  /** A cluster's position as known now, for a cluster that had none when the epoch began (it was unreachable). */
  currentFloor: (cluster: string) => string | undefined;
  onLookup?: (result: LookupResult) => void;
  onEpoch?: (reason: string) => void;
}

export type LookupResult = 'hit' | 'miss' | 'stale' | 'error' | 'bypass';

export type EntityLookup =
  | { kind: 'bypass' }
  /** A hit or a miss: a database answer may be written back under `epoch` if it was read at or after `bar`. */
  | { kind: 'hit'; tags: string[]; lsn: string; epoch: string; bar: string | undefined }
  /** `stale`: the entry this epoch has, older than `bar` — only ever served when the database cannot answer (issue 17). */
  | { kind: 'miss'; epoch: string; bar: string | undefined; stale?: { tags: string[]; lsn: string } };

export type PopularLookup = { kind: 'bypass' } | { kind: 'hit'; entry: PopularEntry } | { kind: 'miss'; epoch: string };

const PASSING: ReadonlySet<BreakerState> = new Set(['closed', 'metrics-only', 'disabled']);
/** A serving shard with no Redis call for this long checks its Redis on the next tick. */
const IDLE_CHECK_MS = 1_000;

export class CacheShard {
  private epoch: string | null = null;
  private floors = new Map<string, string>();
  private resync: { kind: 'advance' | 'adopt'; reason: string } | null = { kind: 'advance', reason: 'start' };
  /** Bumped by every event that asks for a resync: a resync started before it does not clear it. */
  private resyncGen = 0;
  /** The epoch this shard is switching to (already in Redis, floors being taken). */
  private advancingTo: string | null = null;
  private lastCallAt = -Infinity;
  private advances = 0;
  private adoptions = 0;
  private last: { reason: string; at: number } | null = null;
  tickPending = false;

  constructor(readonly deps: CacheShardDeps) {
    deps.breaker.subscribe((t) => {
      if (!PASSING.has(t.to)) this.needAdvance(`breaker ${t.to}`);
    });
  }

  get name(): string {
    return this.deps.store.name;
  }

  /** Serving: an epoch is established, nothing asks for a new one, and the breaker lets calls through. */
  usable(): boolean {
    return this.epoch !== null && this.resync === null && PASSING.has(this.deps.breaker.state());
  }

  needAdvance(reason: string): void {
    this.resyncGen++;
    if (this.resync?.kind !== 'advance') this.resync = { kind: 'advance', reason };
  }

  async lookupEntity(entity: string, cluster: string): Promise<EntityLookup> {
    const epoch = this.epoch;
    if (!this.usable() || epoch === null) return this.result('bypass', { kind: 'bypass' });
    let values: Array<string | null>;
    try {
      values = await this.guarded(() => this.deps.store.mget([EPOCH_KEY, entityKey(epoch, entity), floorKey(entity)]));
    } catch {
      return this.result('error', { kind: 'bypass' });
    }
    const [current, raw, floor] = values;
    if (!this.sameEpoch(epoch, current)) return this.result('bypass', { kind: 'bypass' });
    const epochFloor = this.epochFloor(cluster);
    if (epochFloor === undefined) return this.result('bypass', { kind: 'bypass' });
    const bar = higherLsn(floor, epochFloor);
    const entry = decodeEntity(raw);
    if (entry && lsnAtLeast(entry.lsn, bar)) return this.result('hit', { kind: 'hit', tags: entry.tags, lsn: entry.lsn, epoch, bar });
    return entry ? this.result('stale', { kind: 'miss', epoch, bar, stale: { tags: entry.tags, lsn: entry.lsn } }) : this.result('miss', { kind: 'miss', epoch, bar });
  }

  /** Fire and forget: a failed write-back costs a miss later, never a stale answer. */
  storeEntity(miss: { epoch: string; bar: string | undefined }, entity: string, cluster: string, tags: string[], lsn: string): void {
    if (miss.epoch !== this.epoch || !this.usable()) return;
    const epochFloor = this.epochFloor(cluster);
    if (epochFloor === undefined || !lsnAtLeast(lsn, higherLsn(miss.bar, epochFloor))) return;
    this.guarded(() => this.deps.store.set(entityKey(miss.epoch, entity), encodeEntity({ tags, lsn }), this.deps.ttlSeconds)).catch(() => undefined);
  }

  async lookupPopular(limit: number): Promise<PopularLookup> {
    const epoch = this.epoch;
    if (!this.usable() || epoch === null) return this.result('bypass', { kind: 'bypass' });
    let values: Array<string | null>;
    try {
      values = await this.guarded(() => this.deps.store.mget([EPOCH_KEY, popularKey(epoch, limit)]));
    } catch {
      return this.result('error', { kind: 'bypass' });
    }
    if (!this.sameEpoch(epoch, values[0])) return this.result('bypass', { kind: 'bypass' });
    const entry = decodePopular(values[1]);
    return entry ? this.result('hit', { kind: 'hit', entry }) : this.result('miss', { kind: 'miss', epoch });
  }

  storePopular(epoch: string, limit: number, entry: PopularEntry): void {
    if (epoch !== this.epoch || !this.usable()) return;
    this.guarded(() => this.deps.store.set(popularKey(epoch, limit), encodePopular(entry), this.deps.popularTtlSeconds)).catch(() => undefined);
  }

  async receive(msg: CacheShardMsg): Promise<void> {
    switch (msg.type) {
      case 'cache.invalidate':
        return this.invalidate(msg.entries);
      case 'cache.tick':
        this.tickPending = false;
        return this.tick();
    }
  }

  /** After a commit: raise each entity's floor to the commit LSN. A floor that may not have landed costs an epoch. */
  async invalidate(entries: Invalidation[]): Promise<void> {
    if (!this.usable()) {
      // Not serving: the resync that must happen before serving again covers these writes (its floors are later).
      if (this.resync === null) this.needAdvance('invalidation while not serving');
      return;
    }
    // One breaker call for the batch (the SETs go out in one pipeline): a batch of a hundred entities that fails
    // once is one failure, not a hundred that trip the breaker by themselves.
    const ttl = this.deps.ttlSeconds * 2;
    try {
      await this.guarded(() => Promise.all(entries.map((e) => this.deps.store.set(floorKey(e.entity), e.lsn, ttl))), this.deps.invalidateTimeoutMs);
    } catch (err) {
      this.needAdvance(`invalidation failed: ${errorMessage(err)}`);
    }
  }

  /** Health and epoch work: probes while half-open; a new or adopted epoch before serving again. */
  async tick(): Promise<void> {
    if (this.resync === null) return this.idleCheck();
    const state = this.deps.breaker.state();
    if (state === 'half-open') {
      await Promise.allSettled(Array.from({ length: this.deps.halfOpenProbes }, () => this.guarded(() => this.deps.store.ping())));
      return;
    }
    if (!PASSING.has(state)) return; // open or forced open: the breaker's timer decides when to try again
    const gen = this.resyncGen;
    const wanted = this.resync;
    try {
      if (wanted.kind === 'adopt') {
        const current = await this.guarded(() => this.deps.store.get(EPOCH_KEY));
        if (current !== null) {
          if (current !== this.epoch) await this.switchTo(current, gen, `adopted: ${wanted.reason}`);
          else if (gen === this.resyncGen) this.resync = null;
          return;
        }
      }
      const next = `${this.deps.clock.now().toString(36)}${randomBytes(3).toString('hex')}`;
      // Redis first: while it is down this fails fast, without probing every database node for nothing.
      // The floors are taken after: later floors are only stricter.
      this.advancingTo = next;
      await this.guarded(() => this.deps.store.set(EPOCH_KEY, next, EPOCH_TTL_SECONDS));
      await this.switchTo(next, gen, wanted.reason);
    } catch (err) {
      this.deps.logger.warn({ cache: this.name, err: errorMessage(err), reason: wanted.reason }, 'cache epoch change failed; retrying');
    } finally {
      this.advancingTo = null;
    }
  }

  /**
   * A shard nobody asked for a while checks its Redis (and its epoch key) anyway: its breaker and the dashboard
   * then say the truth, and a restart that emptied Redis is noticed before the next read rather than by it.
   */
  private async idleCheck(): Promise<void> {
    if (this.deps.clock.now() - this.lastCallAt < IDLE_CHECK_MS || !this.usable() || this.epoch === null) return;
    const epoch = this.epoch;
    try {
      this.sameEpoch(epoch, await this.guarded(() => this.deps.store.get(EPOCH_KEY)));
    } catch (err) {
      // Counted by the breaker, but an idle shard makes too few calls to fill its window: stop serving, and the
      // epoch change that follows keeps calling Redis (and so the breaker decides) until it answers again.
      this.needAdvance(`idle check failed: ${errorMessage(err)}`);
    }
  }

  status() {
    return {
      name: this.name,
      breaker: this.deps.breaker.state(),
      lastTrip: this.deps.breaker.stats().lastTrip,
      usable: this.usable(),
      epoch: this.epoch,
      resync: this.resync,
      advances: this.advances,
      adoptions: this.adoptions,
      lastEpochChange: this.last,
      floors: Object.fromEntries(this.floors),
    };
  }

  /**
   * The epoch's floor for a cluster. One unknown when the epoch began (the cluster was unreachable) is taken from
   * what is known now — later, hence stricter; with nothing known at all the cluster is not cached.
   */
  private epochFloor(cluster: string): string | undefined {
    let f = this.floors.get(cluster);
    if (f === undefined) {
      f = this.deps.currentFloor(cluster);
      if (f !== undefined) this.floors.set(cluster, f);
    }
    return f;
  }

  private async switchTo(epoch: string, gen: number, reason: string, floors?: Map<string, string>): Promise<void> {
    const f = floors ?? (await this.deps.epochFloors());
    this.epoch = epoch;
    this.floors = f;
    if (reason.startsWith('adopted')) this.adoptions++;
    else this.advances++;
    this.last = { reason, at: this.deps.clock.now() };
    // Something asked for another resync while this one ran: keep it (its floors must be later than ours).
    if (gen === this.resyncGen) this.resync = null;
    this.deps.onEpoch?.(reason);
    this.deps.logger.info({ cache: this.name, epoch, reason, floors: Object.fromEntries(f) }, 'cache shard serves a new key epoch');
  }

  /** The epoch key read with an entry: gone → Redis lost its data (advance); different → another daemon moved on (adopt). */
  private sameEpoch(epoch: string, current: string | null | undefined): boolean {
    if (current === epoch && this.epoch === epoch) return true;
    if (current === epoch) return false; // we switched while this call ran
    if (current != null && (current === this.epoch || current === this.advancingTo)) return false; // our own switch, seen early
    this.resyncGen++;
    if (current == null) this.needAdvance('epoch key missing (Redis restarted or evicted it)');
    else if (this.resync === null) this.resync = { kind: 'adopt', reason: 'epoch moved on elsewhere' };
    return false;
  }

  private result<T>(r: LookupResult, value: T): T {
    this.deps.onLookup?.(r);
    return value;
  }

  private guarded<T>(fn: () => Promise<T>, timeoutMs = this.deps.timeoutMs): Promise<T> {
    this.lastCallAt = this.deps.clock.now();
    return this.deps.breaker.call(() => withDeadline(fn(), timeoutMs, this.deps.clock, this.name));
  }
}

/** How many times a deadline is re-armed when it fired late because our own process was stalled. */
const MAX_STALL_EXTENSIONS = 2;

/**
 * Rejects when `p` has not settled `ms` after the call. Two guards keep the daemon's own overload from being
 * blamed on Redis (which would open the breaker and push every read onto the databases, the dearer path):
 * - a deadline whose timer fired late by half a deadline or more measured our stalled event loop, not Redis: it
 *   is re-armed (at most MAX_STALL_EXTENSIONS times);
 * - the verdict waits for the loop's check phase, so a reply already sitting in the socket is read first.
 */
function withDeadline<T>(p: Promise<T>, ms: number, clock: Clock, name: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let extensions = 0;
    let timer: TimerHandle;
    const arm = () => {
      const due = clock.now() + ms;
      timer = clock.setTimeout(() => {
        if (clock.now() - due >= ms / 2 && extensions < MAX_STALL_EXTENSIONS) {
          extensions++;
          arm();
          return;
        }
        setImmediate(() => reject(new TagstreamError(ErrorCodes.TIMEOUT, `cache ${name}: no answer within ${ms} ms`, { retriable: true })));
      }, ms);
    };
    arm();
    p.then(
      (v) => {
        clock.clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clock.clearTimeout(timer);
        reject(err);
      },
    );
  });
}
