// Event-loop delay in fixed windows: how long a ready callback waited for the loop (a stall of the daemon's
// only thread delays every answer, every heartbeat and every probe). Node's sampler (perf_hooks
// monitorEventLoopDelay) fills a histogram; each window (on the injected clock) reads p50/p99/max and resets it,
// so `tagstream_event_loop_delay_seconds{quantile}` says what the last window looked like whoever scrapes.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Clock } from './clock.ts';

/** The part of perf_hooks' IntervalHistogram this module reads (nanoseconds). */
export interface DelayHistogram {
  enable(): void;
  disable(): void;
  reset(): void;
  percentile(p: number): number;
  readonly max: number;
  readonly count: number;
}

export interface DelayWindow {
  /** Seconds. */
  p50: number;
  p99: number;
  max: number;
  /** Samples in the window (0: the loop was too busy to sample, or the window was empty). */
  samples: number;
}

export interface EventLoopDelayOptions {
  clock: Clock;
  /** Window length; default 10 s. */
  windowMs?: number;
  /** Sampling resolution of the native sampler; default 10 ms. */
  resolutionMs?: number;
  onWindow: (w: DelayWindow) => void;
  /** Tests pass a fake; the default is perf_hooks' sampler. */
  histogram?: DelayHistogram;
}

const NS = 1e9;

export function readWindow(h: DelayHistogram): DelayWindow {
  // perf_hooks reports an empty histogram's percentiles as 0 and max as 0; keep that, do not invent figures.
  const samples = h.count;
  if (samples === 0) return { p50: 0, p99: 0, max: 0, samples: 0 };
  return { p50: h.percentile(50) / NS, p99: h.percentile(99) / NS, max: h.max / NS, samples };
}

/** Starts sampling; returns stop(). */
export function startEventLoopDelay(opts: EventLoopDelayOptions): () => void {
  const h = opts.histogram ?? monitorEventLoopDelay({ resolution: opts.resolutionMs ?? 10 });
  const windowMs = opts.windowMs ?? 10_000;
  let timer: unknown = null;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    opts.onWindow(readWindow(h));
    h.reset();
    timer = opts.clock.setTimeout(tick, windowMs);
  };
  h.enable();
  timer = opts.clock.setTimeout(tick, windowMs);
  return () => {
    stopped = true;
    opts.clock.clearTimeout(timer);
    h.disable();
  };
}
