// Start-up steps (topic creation, migrations) retry transient errors for a bounded time: a broker that is
// still electing leaders or a database that is restarting is no reason to refuse to start.
import { backoffDelay } from './backoff.ts';
import { classify } from './classify.ts';
import { sleep, type Clock } from './clock.ts';
import type { Logger } from './logger.ts';

export async function retryStartup<T>(what: string, fn: () => Promise<T>, deps: { clock: Clock; logger: Logger; maxMs?: number; signal?: AbortSignal }): Promise<T> {
  const until = deps.clock.now() + (deps.maxMs ?? 60_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const c = classify(err);
      if ((c.class !== 'retry' && c.class !== 'reroute') || deps.clock.now() >= until) throw err;
      const delay = backoffDelay(attempt, { initialMs: 200, multiplier: 2, maxMs: 5_000, jitter: 0.2 });
      deps.logger.warn({ err, attempt, delayMs: delay, source: c.source }, `${what} failed at start; retrying`);
      await sleep(deps.clock, delay, deps.signal);
    }
  }
}
