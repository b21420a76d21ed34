// Times every async method of a port (ShardStore, CacheStore, SearchIndex, CommandLog) into one histogram,
// without the adapters knowing: a Proxy that wraps functions once, calls them on the real object (so private
// fields and `this` keep working) and observes the duration when the returned promise settles. Synchronous
// results (topology(), fault hooks) pass through untimed; `instanceof` still sees the real class.
import type { Clock } from './clock.ts';

export type Observe = (labels: { backend: string; target: string; op: string; outcome: 'ok' | 'error' }, seconds: number) => void;

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

export function instrumentPort<T extends object>(port: T, opts: { backend: string; target: string; clock: Clock; observe: Observe; skip?: readonly string[] }): T {
  const wrapped = new Map<PropertyKey, unknown>();
  const skip = new Set(opts.skip ?? []);
  return new Proxy(port, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || skip.has(prop) || prop === 'constructor') return value;
      const cached = wrapped.get(prop);
      if (cached && (cached as { original?: unknown }).original === value) return cached;
      const fn = value as (...args: unknown[]) => unknown;
      const timed = function (this: unknown, ...args: unknown[]): unknown {
        const start = opts.clock.now();
        const result = fn.apply(target, args);
        if (!isThenable(result)) return result;
        const done = (outcome: 'ok' | 'error') => opts.observe({ backend: opts.backend, target: opts.target, op: prop, outcome }, Math.max(0, opts.clock.now() - start) / 1000);
        result.then(
          () => done('ok'),
          () => done('error'),
        );
        return result;
      };
      (timed as unknown as { original: unknown }).original = value;
      wrapped.set(prop, timed);
      return timed;
    },
  });
}
