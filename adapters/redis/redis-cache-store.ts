// RedisCacheStore: a CacheStore over one Redis server (ioredis 5) set up to fail fast: no offline queue, no
// resend of in-flight commands after a reconnect (INCR is not idempotent), a per-command timeout (a frozen
// server keeps the connection "ready" forever otherwise), capped reconnect backoff. Every call's errors leave
// classified (toRedisError: timeouts, closed or unwritable streams, ECONNREFUSED → retry; replies by prefix).
import { Redis, type RedisOptions } from 'ioredis';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { converting } from '../driver-errors.ts';
import { toRedisError } from './errors.ts';
import { MgetCoalescer } from './mget-coalescer.ts';
import type { CacheStore } from './port.ts';

export interface RedisCacheStoreOptions {
  name: string;
  host: string;
  port: number;
  password?: string;
  /** Every command rejects after this long, answered or not. */
  commandTimeoutMs: number;
  /** TCP connect; defaults to the command timeout (at least 200 ms). */
  connectTimeoutMs?: number;
  /** Ceiling of the reconnect backoff. */
  maxReconnectDelayMs?: number;
  logger: Logger;
  clock?: Clock;
}

/** Reconnect delay after `times` failed attempts: 50 ms doubling, capped. Pure, for tests. */
export function reconnectDelay(times: number, capMs: number): number {
  return Math.min(capMs, 50 * 2 ** Math.min(Math.max(0, times - 1), 16));
}

export class RedisCacheStore implements CacheStore {
  readonly name: string;
  private readonly redis: Redis;
  private readonly log: Logger;
  private readonly clock: Clock;
  private started = false;
  private lastError = '';
  private readonly mgets: MgetCoalescer;

  constructor(opts: RedisCacheStoreOptions) {
    this.name = opts.name;
    this.log = opts.logger;
    this.clock = opts.clock ?? systemClock;
    const cap = opts.maxReconnectDelayMs ?? 2_000;
    const options: RedisOptions = {
      host: opts.host,
      port: opts.port,
      password: opts.password,
      connectionName: `tagstream-${opts.name}`,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: opts.connectTimeoutMs ?? Math.max(200, opts.commandTimeoutMs),
      retryStrategy: (times) => reconnectDelay(times, cap),
      enableReadyCheck: true,
      // Commands issued in one event-loop turn (many HTTP reads at once) go out in one write: under read load,
      // one write syscall per command was ~15% of the daemon's busy time (profiled with bench/reads.ts).
      enableAutoPipelining: true,
      // …except MGET: the coalescer already makes the reads of a turn one MGET, and an auto-pipeline per turn
      // (a Pipeline object, a promise and a callback per command) was most of what outlived the young generation.
      autoPipeliningIgnoredCommands: ['mget'],
    };
    this.redis = new Redis(options);
    this.mgets = new MgetCoalescer((keys) => this.redis.mget(keys));
    // Without an 'error' listener ioredis prints every reconnect failure; log each distinct one once.
    this.redis.on('error', (err: Error) => {
      const msg = errorMessage(err);
      if (msg !== this.lastError) this.log.warn({ cache: this.name, err: msg }, 'redis connection error');
      this.lastError = msg;
    });
    this.redis.on('ready', () => {
      if (this.lastError) this.log.info({ cache: this.name }, 'redis connection ready again');
      this.lastError = '';
    });
  }

  /** Starts connecting (once); ioredis keeps reconnecting in the background if the server is down. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.redis.connect().catch(() => undefined); // failures surface on 'error' and in calls; reconnect continues
  }

  /** Resolves when the connection is ready (commands are refused before: the offline queue is off). */
  ready(timeoutMs: number): Promise<void> {
    this.start();
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        this.clock.clearTimeout(timer);
        this.redis.off('ready', onReady);
        if (err) reject(toRedisError(err));
        else resolve();
      };
      const onReady = () => done();
      const timer = this.clock.setTimeout(() => done(Object.assign(new Error(`${this.name}: redis not ready within ${timeoutMs} ms (${this.lastError || this.redis.status})`), { code: 'ETIMEDOUT' })), timeoutMs);
      this.redis.on('ready', onReady);
    });
  }

  /** ioredis connection status ('ready', 'reconnecting', 'end', …), for health pages. */
  status(): string {
    return this.redis.status;
  }

  get(key: string): Promise<string | null> {
    return converting(this.redis.get(key), toRedisError);
  }

  async mget(keys: string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    return converting(this.mgets.mget(keys), toRedisError);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await converting(this.redis.set(key, value, 'EX', ttlSeconds), toRedisError);
  }

  async del(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return converting(this.redis.del(keys), toRedisError);
  }

  incr(key: string): Promise<number> {
    return converting(this.redis.incr(key), toRedisError);
  }

  async ping(): Promise<void> {
    await converting(this.redis.ping(), toRedisError);
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    // QUIT waits for a reply a frozen server never sends: disconnect at once.
    this.redis.disconnect(false);
  }
}
