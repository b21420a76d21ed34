// MemoryCacheStore: the embedded CacheStore, a Map with TTLs on the injected Clock, and the faults a real
// Redis shows: unavailable (calls reject at once, like a refused connection) and frozen (calls hang until
// the command timeout, like a SIGSTOPped server behind our timeout). Errors look like ioredis' and leave
// through the same converter as the real store's (toRedisError), so both stores classify alike.
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { CacheFaultHooks } from '../fault-hooks.ts';
import { toRedisError } from './errors.ts';
import type { CacheStore } from './port.ts';

export interface MemoryCacheStoreOptions {
  name: string;
  clock: Clock;
  /** A frozen store rejects a call after this long (the real store's commandTimeout). */
  commandTimeoutMs: number;
  /** Oldest-written keys are evicted past this many (Redis runs with allkeys-lru). */
  maxKeys?: number;
}

/** An error reply, named like ioredis' (redis-errors) ReplyError. */
export class ReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyError';
  }
}

interface Entry {
  value: string;
  /** ms since epoch on the store's clock; null: no expiry. */
  expiresAt: number | null;
}

interface Parked {
  run: () => void;
  fail: (err: Error) => void;
  timer: TimerHandle;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SWEEP_EVERY = 1_024;

export class MemoryCacheStore implements CacheStore {
  readonly name: string;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly maxKeys: number;
  private readonly data = new Map<string, Entry>();
  private available = true;
  private frozen = false;
  private closed = false;
  private parked = new Set<Parked>();
  private writes = 0;

  constructor(opts: MemoryCacheStoreOptions) {
    this.name = opts.name;
    this.clock = opts.clock;
    this.timeoutMs = opts.commandTimeoutMs;
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  // ── fault injection ────────────────────────────────────────────────────────────────────────────────────

  readonly faults: CacheFaultHooks = { setAvailable: (a) => this.setAvailable(a), freeze: () => this.freeze(), thaw: () => this.thaw(), flushAll: () => this.flushAll() };

  /** false: every call rejects at once with a connection error (calls hanging on a freeze fail too). */
  setAvailable(available: boolean): void {
    this.available = available;
    if (!available) for (const p of this.drainParked()) p.fail(connectionClosed(this.name));
  }

  /** Calls hang until the command timeout, then reject; thaw() answers those still waiting. */
  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const p of this.drainParked()) p.run();
  }

  /** A restart of a server without persistence: every key is gone. */
  flushAll(): void {
    this.data.clear();
  }

  /** Redis TTL semantics: seconds left, -1 without expiry, -2 when the key does not exist. Not a call. */
  ttl(key: string): number {
    const e = this.live(key);
    if (!e) return -2;
    return e.expiresAt === null ? -1 : Math.ceil((e.expiresAt - this.clock.now()) / 1000);
  }

  size(): number {
    return this.data.size;
  }

  // ── CacheStore ─────────────────────────────────────────────────────────────────────────────────────────

  get(key: string): Promise<string | null> {
    return this.call(() => this.live(key)?.value ?? null);
  }

  mget(keys: string[]): Promise<Array<string | null>> {
    return this.call(() => keys.map((k) => this.live(k)?.value ?? null));
  }

  set(key: string, value: string, ttlSeconds: number): Promise<void> {
    return this.call(() => {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new ReplyError("ERR invalid expire time in 'set' command");
      this.data.delete(key); // re-insert: Map order is write order, the eviction order
      this.data.set(key, { value, expiresAt: this.clock.now() + ttlSeconds * 1000 });
      this.afterWrite();
    });
  }

  del(keys: string[]): Promise<number> {
    return this.call(() => {
      let n = 0;
      for (const k of new Set(keys)) if (this.live(k) && this.data.delete(k)) n++;
      return n;
    });
  }

  incr(key: string): Promise<number> {
    return this.call(() => {
      const e = this.live(key);
      const current = e ? parseInt64(e.value) : 0n;
      if (current === null || current >= INT64_MAX) throw new ReplyError('ERR value is not an integer or out of range');
      const next = current + 1n;
      this.data.set(key, { value: next.toString(), expiresAt: e?.expiresAt ?? null }); // INCR keeps the TTL
      this.afterWrite();
      return Number(next);
    });
  }

  ping(): Promise<void> {
    return this.call(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.drainParked()) p.fail(connectionClosed(this.name));
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────────────

  private call<T>(op: () => T): Promise<T> {
    if (this.closed) return Promise.reject(toRedisError(connectionClosed(this.name)));
    if (!this.available) return Promise.reject(toRedisError(connectionRefused(this.name)));
    if (!this.frozen) return run(op);
    return new Promise<T>((resolve, reject) => {
      const p: Parked = {
        run: () => {
          this.clock.clearTimeout(p.timer);
          run(op).then(resolve, reject);
        },
        fail: (err) => {
          this.clock.clearTimeout(p.timer);
          reject(toRedisError(err));
        },
        timer: this.clock.setTimeout(() => {
          this.parked.delete(p);
          reject(toRedisError(new Error('Command timed out')));
        }, this.timeoutMs),
      };
      this.parked.add(p);
    });
  }

  private drainParked(): Parked[] {
    const all = [...this.parked];
    this.parked.clear();
    return all;
  }

  private live(key: string): Entry | undefined {
    const e = this.data.get(key);
    if (e && e.expiresAt !== null && this.clock.now() >= e.expiresAt) {
      this.data.delete(key);
      return undefined;
    }
    return e;
  }

  private afterWrite(): void {
    while (this.data.size > this.maxKeys) {
      const oldest = this.data.keys().next();
      if (oldest.done) break;
      this.data.delete(oldest.value);
    }
    if (++this.writes % SWEEP_EVERY === 0) for (const k of [...this.data.keys()]) this.live(k);
  }
}

/** The op's answer; what it throws (an error reply) leaves classified, as the real store's would. */
function run<T>(op: () => T): Promise<T> {
  try {
    return Promise.resolve(op());
  } catch (err) {
    return Promise.reject(toRedisError(err));
  }
}

function parseInt64(s: string): bigint | null {
  if (!/^-?(0|[1-9]\d{0,18})$/.test(s)) return null;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? null : n;
}

/** As a refused TCP connect (ECONNREFUSED → retry at the boundary). */
function connectionRefused(name: string): Error {
  return Object.assign(new Error(`connect ECONNREFUSED ${name} (memory cache unavailable)`), { code: 'ECONNREFUSED' });
}

/** ioredis' message when the connection goes away under a pending command. */
function connectionClosed(name: string): Error {
  return Object.assign(new Error(`Connection is closed. (${name})`), { code: 'ECONNRESET' });
}
