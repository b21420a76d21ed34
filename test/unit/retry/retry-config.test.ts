// Config retryLoops.*: the loops with a back-off of their own take it from config, with today's constants as
// defaults, validated like the rest of config (every problem reported at once, unknown keys too).
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/index.ts';
import { defaultRewindBackoff } from '../../../actors/sink/sink-consumer.ts';
import { defaultStartupPolicy } from '../../../machines/retry/startup.ts';

const problemsOf = (overrides: Record<string, unknown>): string => {
  try {
    loadConfig({ env: {}, overrides });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  return '';
};

describe('config retryLoops', () => {
  it('defaults to the constants the loops had', () => {
    const c = loadConfig({ env: {}, overrides: {} });
    expect(c.retryLoops).toEqual({
      sinkPrepare: { initialMs: 500, multiplier: 2, maxMs: 15_000, jitter: 0.2 },
      sinkRewind: { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 0.2 },
      logRedelivery: { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 0.2 },
      startup: { initialMs: 200, multiplier: 2, maxMs: 5_000, jitter: 0.2, giveUpAfterMs: 60_000 },
    });
    expect(c.retryLoops.sinkRewind).toEqual(defaultRewindBackoff);
    expect(c.retryLoops.startup).toEqual(defaultStartupPolicy);
  });

  it('takes one loop from the environment and keeps the others', () => {
    const c = loadConfig({ env: { TAGSTREAM_RETRY_LOOPS__STARTUP__GIVE_UP_AFTER_MS: '5000' }, overrides: {} });
    expect(c.retryLoops.startup.giveUpAfterMs).toBe(5_000);
    expect(c.retryLoops.sinkPrepare.initialMs).toBe(500);
  });

  it('reports every problem at once: bad values, a max below the initial delay, an unknown key', () => {
    const problems = problemsOf({ retryLoops: { sinkPrepare: { initialMs: 0, multiplier: 2, maxMs: 100, jitter: 2 }, sinkRewind: { initialMs: 500, multiplier: 2, maxMs: 100, jitter: 0.2 }, startupp: {} } });
    expect(problems).toMatch(/retryLoops\.sinkPrepare\.initialMs/);
    expect(problems).toMatch(/retryLoops\.sinkPrepare\.jitter/);
    expect(problems).toMatch(/retryLoops\.sinkRewind\.maxMs: must be ≥ retryLoops\.sinkRewind\.initialMs/);
    expect(problems).toMatch(/retryLoops\.startupp/);
  });
});
