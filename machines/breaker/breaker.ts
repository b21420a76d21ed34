// The breaker as callers use it: call(fn) runs fn or rejects with BreakerOpenError. In the closed state a call
// costs two clock reads and a window update; the machine hears only WINDOW.TRIPPED, probe outcomes and
// operator commands. The current state is cached from the machine's transitions, never read per call.
import type { Actor, Snapshot } from 'xstate';
import type { BreakerConfig } from '../../config/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { createMachineActor } from '../create-machine-actor.ts';
import type { InspectionBus, MachineRecord } from '../inspection.ts';
import { createOpenError, defaultErrorFilter, type ErrorFilter } from './errors.ts';
import { createBreakerMachine, type BreakerContext, type BreakerMachine, type BreakerState, type TripInfo } from './machine.ts';
import { createWindow, type SlidingWindow, type WindowCounts } from './window.ts';

export interface BreakerOptions {
  clock: Clock;
  name: string;
  inspect?: InspectionBus;
  /** Decides whether an error counts against the dependency (default: poison and aborts do not). */
  errorFilter?: ErrorFilter;
  /** Resume from breaker.snapshot(): state, trip count and deadlines (the window starts empty). */
  snapshot?: BreakerSnapshot;
  halfOpenMaxMs?: number;
}

export interface BreakerSnapshot {
  version: 1;
  name: string;
  machine: Snapshot<unknown>;
}

export interface CallOutcome {
  ok: boolean;
  durationMs: number;
  error?: unknown;
}

export interface BreakerTransition {
  breaker: string;
  from: BreakerState;
  to: BreakerState;
  /** The machine event: 'WINDOW.TRIPPED', 'PROBE.FAILURE', 'FORCE.OPEN', 'xstate.after.openTimeout.breaker.open'… */
  event: string;
  at: number;
  /** While open: when probes will be let through. */
  retryAt: number | null;
  trip: TripInfo | null;
}

export interface BreakerStats {
  name: string;
  state: BreakerState;
  window: WindowCounts;
  rejected: number;
  /** Events sent to the machine so far: stays flat while calls succeed (the hot path never sends one). */
  machineEvents: number;
  trips: number;
  lastTrip: TripInfo | null;
  retryAt: number | null;
}

export type OperatorState = 'open' | 'closed' | 'disabled' | 'metrics-only';

export interface Breaker {
  readonly name: string;
  call<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Counts a call made without call(): in half-open it uses a probe slot if one is left. */
  record(outcome: CallOutcome): void;
  state(): BreakerState;
  force(to: OperatorState): void;
  subscribe(listener: (t: BreakerTransition) => void): () => void;
  snapshot(): BreakerSnapshot;
  restore(snapshot: BreakerSnapshot): void;
  stats(): BreakerStats;
  stop(): void;
}

const FORCE_EVENTS = { open: 'FORCE.OPEN', closed: 'FORCE.CLOSED', disabled: 'FORCE.DISABLED', 'metrics-only': 'FORCE.METRICS_ONLY' } as const;

class CircuitBreaker implements Breaker {
  private mode: BreakerState = 'closed';
  /** Bumped on every state change: outcomes of calls started under an older state are not counted. */
  private generation = 0;
  private probesStarted = 0;
  private retryAt: number | null = null;
  private rejected = 0;
  private machineEvents = 0;
  private context: BreakerContext | null = null;
  private readonly listeners = new Set<(t: BreakerTransition) => void>();
  private readonly window: SlidingWindow;
  private readonly machine: BreakerMachine;
  private readonly clock: Clock;
  private readonly slowCallMs: number;
  private readonly probeLimit: number;
  private readonly errorFilter: ErrorFilter;
  private actor: Actor<BreakerMachine>;

  constructor(
    cfg: BreakerConfig,
    private readonly opts: BreakerOptions,
  ) {
    this.clock = opts.clock;
    this.slowCallMs = cfg.slowCallMs;
    this.probeLimit = cfg.halfOpenProbes;
    this.errorFilter = opts.errorFilter ?? defaultErrorFilter;
    this.window = createWindow(cfg);
    this.machine = createBreakerMachine({ ...cfg, ...(opts.halfOpenMaxMs !== undefined ? { halfOpenMaxMs: opts.halfOpenMaxMs } : {}) }, { clock: opts.clock, name: opts.name });
    this.actor = this.spawn(opts.snapshot);
  }

  get name(): string {
    return this.opts.name;
  }

  private spawn(snapshot?: BreakerSnapshot): Actor<BreakerMachine> {
    const userBus = this.opts.inspect;
    const sink = {
      publish: (rec: MachineRecord) => {
        this.onRecord(rec);
        userBus?.publish(rec);
      },
    };
    return createMachineActor(this.machine, { clock: this.clock, id: `breaker:${this.opts.name}`, inspect: sink, input: { name: this.opts.name }, ...(snapshot ? { snapshot: snapshot.machine } : {}) });
  }

  private onRecord(rec: MachineRecord): void {
    if (rec.type === 'machine.stop') return;
    const ctx = rec.context as BreakerContext;
    this.context = ctx;
    const to = rec.to as BreakerState;
    this.retryAt = to === 'open' ? ctx.deadline : null;
    if (rec.type === 'machine.init') {
      this.mode = to;
      this.generation++;
      return;
    }
    if (rec.from === to) return;
    const from = this.mode;
    this.mode = to;
    this.generation++;
    this.probesStarted = 0;
    this.window.reset();
    const t: BreakerTransition = { breaker: this.opts.name, from, to, event: rec.event.type, at: rec.at, retryAt: this.retryAt, trip: to === 'open' ? ctx.lastTrip : null };
    for (const l of this.listeners) {
      try {
        l(t);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  call<T>(fn: () => Promise<T> | T): Promise<T> {
    switch (this.mode) {
      case 'closed':
      case 'metrics-only':
        return this.runCounted(fn);
      case 'disabled':
        return runBare(fn);
      case 'half-open':
        if (this.probesStarted < this.probeLimit) return this.runProbe(fn);
        break;
    }
    this.rejected++;
    return Promise.reject(createOpenError(this.opts.name, this.mode, this.retryAt));
  }

  // Plain then() rather than async/await: one promise per call instead of three, on the hottest path we have.
  private runCounted<T>(fn: () => Promise<T> | T): Promise<T> {
    const gen = this.generation;
    const start = this.clock.now();
    let result: Promise<T> | T;
    try {
      result = fn();
    } catch (err) {
      this.count(gen, start, this.clock.now(), err, true);
      return Promise.reject(err);
    }
    if (!isThenable(result)) {
      this.count(gen, start, this.clock.now(), undefined, false);
      return Promise.resolve(result);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.count(gen, start, this.clock.now(), undefined, false);
        return value;
      },
      (err: unknown) => {
        this.count(gen, start, this.clock.now(), err, true);
        throw err;
      },
    );
  }

  private count(gen: number, start: number, end: number, err: unknown, failed: boolean): void {
    if (gen !== this.generation) return;
    if (failed && this.errorFilter(err) === 'ignore') return;
    const reason = this.window.record(end, failed, end - start > this.slowCallMs);
    if (reason === null) return;
    const c = this.window.counts(end);
    // Reset before telling the machine: in metrics-only the state does not change, and the next calls must
    // start a fresh window rather than report the same trip again.
    this.window.reset();
    this.machineEvents++;
    this.actor.send({ type: 'WINDOW.TRIPPED', reason, failureRate: c.failures / c.calls, slowCallRate: c.slow / c.calls, calls: c.calls });
  }

  private async runProbe<T>(fn: () => Promise<T> | T): Promise<T> {
    this.probesStarted++;
    const gen = this.generation;
    const start = this.clock.now();
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      this.probe(gen, this.clock.now() - start, err, true);
      throw err;
    }
    this.probe(gen, this.clock.now() - start, undefined, false);
    return value;
  }

  private probe(gen: number, durationMs: number, err: unknown, failed: boolean): void {
    if (gen !== this.generation) return;
    if (failed && this.errorFilter(err) === 'ignore') {
      this.probesStarted--; // the slot goes back: this outcome said nothing about the dependency
      return;
    }
    this.machineEvents++;
    this.actor.send({ type: failed ? 'PROBE.FAILURE' : 'PROBE.SUCCESS', slow: durationMs > this.slowCallMs });
  }

  record(outcome: CallOutcome): void {
    const now = this.clock.now();
    if (this.mode === 'closed' || this.mode === 'metrics-only') {
      this.count(this.generation, now - outcome.durationMs, now, outcome.error, !outcome.ok);
    } else if (this.mode === 'half-open' && this.probesStarted < this.probeLimit) {
      this.probesStarted++;
      this.probe(this.generation, outcome.durationMs, outcome.error, !outcome.ok);
    }
  }

  state(): BreakerState {
    return this.mode;
  }

  force(to: OperatorState): void {
    if (to === 'closed') this.window.reset();
    this.machineEvents++;
    this.actor.send({ type: FORCE_EVENTS[to] });
  }

  subscribe(listener: (t: BreakerTransition) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  snapshot(): BreakerSnapshot {
    return { version: 1, name: this.opts.name, machine: this.actor.getPersistedSnapshot() };
  }

  restore(snapshot: BreakerSnapshot): void {
    this.actor.stop();
    this.window.reset();
    this.probesStarted = 0;
    this.actor = this.spawn(snapshot);
  }

  stats(): BreakerStats {
    const ctx = this.context;
    return { name: this.opts.name, state: this.mode, window: this.window.counts(this.clock.now()), rejected: this.rejected, machineEvents: this.machineEvents, trips: ctx?.trips ?? 0, lastTrip: ctx?.lastTrip ?? null, retryAt: this.retryAt };
  }

  stop(): void {
    this.actor.stop();
  }
}

function isThenable<T>(x: Promise<T> | T): x is Promise<T> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

function runBare<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

export function createBreaker(config: BreakerConfig, opts: BreakerOptions): Breaker {
  return new CircuitBreaker(config, opts);
}

/** Builds a breaker from a persisted snapshot (same as createBreaker with opts.snapshot). */
export function restoreBreaker(config: BreakerConfig, snapshot: BreakerSnapshot, opts: Omit<BreakerOptions, 'snapshot'>): Breaker {
  return new CircuitBreaker(config, { ...opts, snapshot });
}
