// The one place that reads wall time or arms timers. Everything else receives a Clock, so tests run on
// simulated time (SimulatedClock) and xstate actors get the same clock through createActor(…, { clock }).

export type TimerHandle = unknown;

export interface Clock {
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
};

/** Resolves after `ms` on `clock`, or rejects with AbortError as soon as `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(abortError(signal!));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

/** Deterministic clock for tests: time moves only when `increment` or `set` is called. */
export class SimulatedClock implements Clock {
  private time: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Moves time forward, firing due timers in order (timers armed while firing fire too if due). */
  increment(ms: number): void {
    this.set(this.time + ms);
  }

  set(target: number): void {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[0] < next[0]))) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].fn();
    }
    this.time = Math.max(this.time, target);
  }

  pending(): number {
    return this.timers.size;
  }
}
