// Circuit-breaker statechart: closed → open → half-open → closed | open, plus the operator states
// forced-open, disabled and metrics-only. The machine sees only what can change its state: the window
// (window.ts, outside the machine) says WINDOW.TRIPPED, half-open probes report their outcome, operators force.
import { assign, setup } from 'xstate';
import type { BreakerConfig } from '../../config/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { untilDeadline } from '../deadline.ts';
import type { TripReason } from './window.ts';

export type BreakerState = 'closed' | 'open' | 'half-open' | 'forced-open' | 'disabled' | 'metrics-only';

export interface TripInfo {
  reason: TripReason | 'probes-failed' | 'probe-timeout';
  failureRate: number;
  slowCallRate: number;
  calls: number;
  at: number;
}

export interface BreakerContext {
  name: string;
  /** Trips since the breaker last closed through successful probes: the open wait grows with it. */
  trips: number;
  /** Absolute time the current state's timer fires (open → half-open, half-open → give up), or null. */
  deadline: number | null;
  /** When the current state was entered. */
  since: number;
  probes: { successes: number; failures: number; slow: number };
  lastTrip: TripInfo | null;
}

export type BreakerEvent =
  | { type: 'WINDOW.TRIPPED'; reason: TripReason; failureRate: number; slowCallRate: number; calls: number }
  | { type: 'PROBE.SUCCESS'; slow: boolean }
  | { type: 'PROBE.FAILURE'; slow: boolean }
  | { type: 'FORCE.OPEN' }
  | { type: 'FORCE.CLOSED' }
  | { type: 'FORCE.DISABLED' }
  | { type: 'FORCE.METRICS_ONLY' };

export type BreakerMachineConfig = Pick<BreakerConfig, 'failureRateThreshold' | 'slowCallRateThreshold' | 'openMs' | 'openMaxMs' | 'openMultiplier' | 'halfOpenProbes'> & {
  /** Longest wait for the half-open probes to report before giving up and opening again. */
  halfOpenMaxMs?: number;
};

/** The open wait after the n-th consecutive trip: openMs · multiplier^(n-1), capped at openMaxMs. */
export function openWaitMs(trips: number, cfg: Pick<BreakerConfig, 'openMs' | 'openMaxMs' | 'openMultiplier'>): number {
  const n = Math.max(1, Math.floor(trips));
  return Math.min(cfg.openMaxMs, Math.round(cfg.openMs * Math.pow(cfg.openMultiplier, n - 1)));
}

/** Half-open verdict once probes report: 'open' as soon as the rates are certain to be over threshold. */
export function probeVerdict(p: BreakerContext['probes'], cfg: BreakerMachineConfig): 'open' | 'closed' | 'pending' {
  const k = cfg.halfOpenProbes;
  if (p.failures > 0 && p.failures / k >= cfg.failureRateThreshold) return 'open';
  if (p.slow > 0 && p.slow / k >= cfg.slowCallRateThreshold) return 'open';
  return p.successes + p.failures >= k ? 'closed' : 'pending';
}

export function createBreakerMachine(cfg: BreakerMachineConfig, deps: { clock: Clock; name?: string }) {
  const { clock } = deps;
  const halfOpenMaxMs = cfg.halfOpenMaxMs ?? Math.max(cfg.openMs, 10_000);
  const noProbes = { successes: 0, failures: 0, slow: 0 };

  const countProbe = (p: BreakerContext['probes'], e: BreakerEvent): BreakerContext['probes'] => {
    if (e.type !== 'PROBE.SUCCESS' && e.type !== 'PROBE.FAILURE') return p;
    return { successes: p.successes + (e.type === 'PROBE.SUCCESS' ? 1 : 0), failures: p.failures + (e.type === 'PROBE.FAILURE' ? 1 : 0), slow: p.slow + (e.slow ? 1 : 0) };
  };

  return setup({
    types: {
      context: {} as BreakerContext,
      events: {} as BreakerEvent,
      input: {} as { name?: string } | undefined,
    },
    delays: {
      openTimeout: ({ context }) => untilDeadline(clock, context.deadline),
      halfOpenTimeout: ({ context }) => untilDeadline(clock, context.deadline),
    },
    guards: {
      probesFailed: ({ context, event }) => probeVerdict(countProbe(context.probes, event), cfg) === 'open',
      probesPassed: ({ context, event }) => probeVerdict(countProbe(context.probes, event), cfg) === 'closed',
    },
    actions: {
      tripFromWindow: assign(({ context, event }) => {
        if (event.type !== 'WINDOW.TRIPPED') return {};
        const now = clock.now();
        const trips = context.trips + 1;
        return { trips, since: now, deadline: now + openWaitMs(trips, cfg), probes: noProbes, lastTrip: { reason: event.reason, failureRate: event.failureRate, slowCallRate: event.slowCallRate, calls: event.calls, at: now } };
      }),
      tripFromProbes: assign(({ context, event }) => {
        const now = clock.now();
        const trips = context.trips + 1;
        const p = countProbe(context.probes, event);
        const k = Math.max(1, p.successes + p.failures);
        const reason = event.type === 'PROBE.FAILURE' || event.type === 'PROBE.SUCCESS' ? 'probes-failed' : 'probe-timeout';
        return { trips, since: now, deadline: now + openWaitMs(trips, cfg), probes: noProbes, lastTrip: { reason, failureRate: p.failures / k, slowCallRate: p.slow / k, calls: p.successes + p.failures, at: now } } as const;
      }),
      enterHalfOpen: assign(() => ({ since: clock.now(), deadline: clock.now() + halfOpenMaxMs, probes: noProbes })),
      countProbe: assign(({ context, event }) => ({ probes: countProbe(context.probes, event) })),
      closeAfterProbes: assign(() => ({ trips: 0, since: clock.now(), deadline: null, probes: noProbes })),
      enterOperatorState: assign(() => ({ since: clock.now(), deadline: null, probes: noProbes })),
      resetToClosed: assign(() => ({ trips: 0, since: clock.now(), deadline: null, probes: noProbes })),
      noteWouldTrip: assign(({ event }) => (event.type === 'WINDOW.TRIPPED' ? { lastTrip: { reason: event.reason, failureRate: event.failureRate, slowCallRate: event.slowCallRate, calls: event.calls, at: clock.now() } } : {})),
    },
  }).createMachine({
    id: 'breaker',
    initial: 'closed',
    context: ({ input }) => ({ name: input?.name ?? deps.name ?? 'breaker', trips: 0, deadline: null, since: clock.now(), probes: noProbes, lastTrip: null }),
    // Operator overrides apply in every state.
    on: {
      'FORCE.OPEN': { target: '.forced-open', actions: 'enterOperatorState' },
      'FORCE.CLOSED': { target: '.closed', actions: 'resetToClosed' },
      'FORCE.DISABLED': { target: '.disabled', actions: 'enterOperatorState' },
      'FORCE.METRICS_ONLY': { target: '.metrics-only', actions: 'enterOperatorState' },
    },
    states: {
      closed: {
        description: 'Calls pass; the window counts them outside the machine.',
        on: { 'WINDOW.TRIPPED': { target: 'open', actions: 'tripFromWindow' } },
      },
      open: {
        description: 'Calls are rejected until the deadline; the wait grows with consecutive trips.',
        after: { openTimeout: { target: 'half-open', actions: 'enterHalfOpen' } },
      },
      'half-open': {
        description: 'K probe calls pass; their outcome closes or reopens the breaker.',
        on: {
          'PROBE.SUCCESS': [
            { guard: 'probesFailed', target: 'open', actions: 'tripFromProbes' },
            { guard: 'probesPassed', target: 'closed', actions: 'closeAfterProbes' },
            { actions: 'countProbe' },
          ],
          'PROBE.FAILURE': [
            { guard: 'probesFailed', target: 'open', actions: 'tripFromProbes' },
            { guard: 'probesPassed', target: 'closed', actions: 'closeAfterProbes' },
            { actions: 'countProbe' },
          ],
        },
        after: { halfOpenTimeout: { target: 'open', actions: 'tripFromProbes' } },
      },
      'forced-open': { description: 'Operator: reject every call until released.' },
      disabled: { description: 'Operator: every call passes, nothing is counted.' },
      'metrics-only': {
        description: 'Operator: calls pass and are counted; a trip is reported but never blocks.',
        on: { 'WINDOW.TRIPPED': { actions: 'noteWouldTrip' } },
      },
    },
  });
}

export type BreakerMachine = ReturnType<typeof createBreakerMachine>;
