// Failover statechart for one PostgreSQL cluster. healthy → suspect (missed probes) → electing (most caught-up
// replica) → promoting → repointing the other replicas → fencing the old primary → healthy on the new topology.
// A planned switchover (SWITCHOVER) enters the same path at electing, the old primary fenced first; one that
// can promote nobody makes the old primary writable again (unfencing) instead of leaving the cluster down.
// Pure: probes arrive as events from the monitor; promote/repoint/fence/LSN collection are invoked actors the
// caller provides with machine.provide({ actors }); topology changes are announced with emitted events.
// In 'patroni' mode the machine never promotes: it follows LEADER.CHANGED reported by the external manager.
import { assign, emit, fromPromise, setup } from 'xstate';
import type { NodeProbe } from '../../adapters/pg/port.ts';
import type { Clock } from '../../lib/clock.ts';
import { untilDeadline } from '../deadline.ts';
import { candidatesOf, complete, isSwitchover, positionsFrom, positionsFromCollect, uniq } from './context.ts';
import { electReplica } from './election.ts';
import { allTimedOut } from './probe-event.ts';
import { PrimaryAnswersError, type CollectLsnsInput, type FailoverContext, type FailoverEmitted, type FailoverEvent, type FailoverInput, type FailoverMachineConfig, type FailoverReason, type FenceInput, type PromoteInput, type RepointInput } from './types.ts';

export * from './types.ts';
export { candidatesOf } from './context.ts';

const notProvided = (name: string) => async (): Promise<never> => {
  throw new Error(`failover machine: actor "${name}" was not provided`);
};

export function createFailoverMachine(cfg: FailoverMachineConfig, deps: { clock: Clock }) {
  const { clock } = deps;
  const t = {
    suspect: cfg.suspectAfterMisses * (cfg.probeIntervalMs + cfg.probeTimeoutMs),
    elect: cfg.electTimeoutMs ?? 2 * cfg.probeTimeoutMs,
    promote: cfg.promoteTimeoutMs ?? 30_000,
    repoint: cfg.repointTimeoutMs ?? 30_000,
    fence: cfg.fenceTimeoutMs ?? 10_000,
    unfence: cfg.unfenceTimeoutMs ?? cfg.fenceTimeoutMs ?? 10_000,
    switchover: cfg.switchoverTimeoutMs ?? 10_000,
    degraded: cfg.degradedRetryMs ?? 10 * cfg.probeIntervalMs,
    degradedSoon: Math.min(cfg.degradedRetryMs ?? 10 * cfg.probeIntervalMs, 2 * cfg.probeIntervalMs),
  };
  const outputProbes = (event: unknown): NodeProbe[] => {
    const out = (event as { output?: unknown }).output;
    return Array.isArray(out) ? (out as NodeProbe[]) : [];
  };
  const collectCandidate = (context: FailoverContext, event: unknown): string | null => {
    const nodes = candidatesOf(context);
    const next = { ...context, ...positionsFromCollect(nodes, outputProbes(event), context, clock.now()) };
    return electReplica(candidatesOf(next), next.positions);
  };

  return setup({
    types: {
      context: {} as FailoverContext,
      events: {} as FailoverEvent,
      input: {} as FailoverInput,
      emitted: {} as FailoverEmitted,
    },
    actors: {
      collectLsns: fromPromise<NodeProbe[], CollectLsnsInput>(notProvided('collectLsns')),
      promoteReplica: fromPromise<void, PromoteInput>(notProvided('promoteReplica')),
      repointReplicas: fromPromise<void, RepointInput>(notProvided('repointReplicas')),
      fenceNode: fromPromise<void, FenceInput>(notProvided('fenceNode')),
      unfenceNode: fromPromise<void, FenceInput>(notProvided('unfenceNode')),
    },
    delays: {
      suspectTimeout: ({ context }) => untilDeadline(clock, context.deadline),
      electTimeout: ({ context }) => untilDeadline(clock, context.deadline),
      promoteTimeout: ({ context }) => untilDeadline(clock, context.deadline),
      repointTimeout: ({ context }) => untilDeadline(clock, context.deadline),
      fenceTimeout: ({ context }) => untilDeadline(clock, context.deadline),
      unfenceTimeout: ({ context }) => untilDeadline(clock, context.deadline),
      degradedRetry: ({ context }) => untilDeadline(clock, context.deadline),
    },
    guards: {
      builtin: ({ context }) => context.mode === 'builtin',
      /** This timeout is the N-th miss in a row (builtin mode only: Patroni decides on its own). */
      electOnMiss: ({ context }) => context.mode === 'builtin' && context.misses + 1 >= cfg.suspectAfterMisses,
      newLeader: ({ context, event }) => context.mode === 'patroni' && event.type === 'LEADER.CHANGED' && event.leader !== context.topology.primary,
      candidateCollected: ({ context, event }) => collectCandidate(context, event) !== null,
      candidateKnown: ({ context }) => electReplica(candidatesOf(context), context.positions) !== null,
      anotherCandidate: ({ context }) => candidatesOf(context).some((c) => c !== context.candidate),
      /** Builtin mode only (Patroni does its own switchovers); a named target must be a live candidate. */
      switchoverPossible: ({ context, event }) =>
        context.mode === 'builtin' && event.type === 'SWITCHOVER' && candidatesOf({ ...context, current: { target: event.target ?? null } }).length > 0,
      switchover: ({ context }) => isSwitchover(context),
      primaryAnswers: ({ event }) => (event as { error?: unknown }).error instanceof PrimaryAnswersError,
      notSwitchover: ({ context }) => !isSwitchover(context),
    },
    actions: {
      noteProbes: assign(({ context, event }) => ('probes' in event ? positionsFrom(event.probes, context, clock.now()) : {})),
      miss: assign(({ context }) => ({ misses: context.misses + 1, suspectSince: context.suspectSince ?? clock.now() })),
      clearSuspect: assign({ misses: 0, suspectSince: null, deadline: null }),
      armSuspect: assign({ deadline: () => clock.now() + t.suspect }),
      armElect: assign({ deadline: () => clock.now() + t.elect }),
      armPromote: assign({ deadline: () => clock.now() + t.promote }),
      armRepoint: assign({ deadline: () => clock.now() + t.repoint }),
      armFence: assign({ deadline: () => clock.now() + t.fence }),
      armUnfence: assign({ deadline: () => clock.now() + t.unfence }),
      armSwitchover: assign({ deadline: () => clock.now() + t.switchover }),
      // An election whose candidates all timed out tries again after two probe intervals, not the full degraded
      // back-off: they are probably alive and only slow to accept a connection (a loaded machine).
      armDegraded: assign({ deadline: ({ event }) => clock.now() + (allTimedOut(outputProbes(event)) ? t.degradedSoon : t.degraded) }),
      enter: assign({ since: () => clock.now() }),
      beginFailover: assign(({ context, event }) => {
        const reason: FailoverReason = event.type === 'PROBE.REFUSED' ? 'refused' : 'timeouts';
        const now = clock.now();
        return { current: { reason, oldPrimary: context.topology.primary, detectedAt: context.suspectSince ?? now, startedAt: now, newPrimary: null, promotedAt: null, repointed: null }, excluded: [], candidate: null };
      }),
      beginSwitchover: assign(({ context, event }) => {
        const now = clock.now();
        const target = event.type === 'SWITCHOVER' ? (event.target ?? null) : null;
        return { current: { reason: 'switchover' as const, oldPrimary: context.topology.primary, detectedAt: now, startedAt: now, newPrimary: null, promotedAt: null, repointed: null, target }, excluded: [], candidate: null, misses: 0, suspectSince: null };
      }),
      notePositionsFromCollect: assign(({ context, event }) => positionsFromCollect(candidatesOf(context), outputProbes(event), context, clock.now())),
      chooseCandidate: assign(({ context }) => ({ candidate: electReplica(candidatesOf(context), context.positions) })),
      excludeCandidate: assign(({ context }) => ({ excluded: context.candidate ? uniq([...context.excluded, context.candidate]) : context.excluded })),
      // A promotion that timed out may still happen later: never write to that node unless an operator says so.
      fenceCandidate: assign(({ context }) => ({ topology: context.candidate ? { ...context.topology, fenced: uniq([...context.topology.fenced, context.candidate]) } : context.topology })),
      applyPromotion: assign(({ context }) => {
        const old = context.topology.primary;
        const next = context.candidate!;
        const now = clock.now();
        return {
          topology: { primary: next, replicas: context.topology.replicas.filter((r) => r !== next && r !== old), fenced: uniq([...context.topology.fenced.filter((f) => f !== next), old]) },
          current: context.current ? { ...context.current, newPrimary: next, promotedAt: now } : null,
        };
      }),
      adoptLeader: assign(({ context, event }) => {
        if (event.type !== 'LEADER.CHANGED') return {};
        const old = context.topology.primary;
        const now = clock.now();
        const replicas = uniq([...context.topology.replicas, ...context.topology.fenced.filter((f) => f === event.leader)]).filter((r) => r !== event.leader && r !== old);
        return {
          topology: { primary: event.leader, replicas, fenced: uniq([...context.topology.fenced.filter((f) => f !== event.leader), old]) },
          current: { reason: 'leader-changed' as const, oldPrimary: old, detectedAt: context.suspectSince ?? now, startedAt: now, newPrimary: event.leader, promotedAt: now, repointed: null },
        };
      }),
      noteRepointed: assign(({ context }) => ({ current: context.current ? { ...context.current, repointed: true } : null })),
      noteRepointFailed: assign(({ context }) => ({ current: context.current ? { ...context.current, repointed: false } : null })),
      completeFenced: assign(({ context }) => complete(context, true, clock.now())),
      completeUnfenced: assign(({ context }) => complete(context, false, clock.now())),
      abandonFailover: assign({ current: null, candidate: null, excluded: [], misses: 0, suspectSince: null, deadline: null }),
      // A retry asks every replica again: one seen down just before the primary died may be up now.
      clearExcluded: assign({ excluded: [], down: [] }),
      setTopology: assign(({ context, event }) => (event.type === 'TOPOLOGY.SET' ? { topology: event.topology, down: [], excluded: [] } : { topology: context.topology })),
      emitSuspect: emit(({ context }) => ({ type: 'failover.suspect' as const, cluster: context.cluster, misses: context.misses })),
      emitRecovered: emit(({ context }) => ({ type: 'failover.recovered' as const, cluster: context.cluster })),
      emitAbandoned: emit(({ context }) => ({ type: 'failover.abandoned' as const, cluster: context.cluster, primary: context.current?.oldPrimary ?? context.topology.primary, candidate: context.candidate })),
      emitUnobserved: emit(({ context }) => ({ type: 'failover.unobserved' as const, cluster: context.cluster })),
      emitStarted: emit(({ context }) => ({ type: 'failover.started' as const, cluster: context.cluster, reason: context.current?.reason ?? 'timeouts', oldPrimary: context.current?.oldPrimary ?? context.topology.primary })),
      emitPromoted: emit(({ context }) => ({ type: 'topology.promoted' as const, cluster: context.cluster, from: context.current?.oldPrimary ?? '', to: context.topology.primary, topology: context.topology })),
      emitDegraded: emit(({ context }) => ({ type: 'failover.degraded' as const, cluster: context.cluster, oldPrimary: context.current?.oldPrimary ?? context.topology.primary })),
      emitRestored: emit(({ context }) => ({ type: 'failover.aborted' as const, cluster: context.cluster, oldPrimary: context.current?.oldPrimary ?? context.topology.primary, restored: true })),
      emitNotRestored: emit(({ context }) => ({ type: 'failover.aborted' as const, cluster: context.cluster, oldPrimary: context.current?.oldPrimary ?? context.topology.primary, restored: false })),
      emitCompleted: emit(({ context }) => ({ type: 'failover.completed' as const, summary: context.lastFailover! })),
    },
  }).createMachine({
    id: 'failover',
    initial: 'healthy',
    context: ({ input }) => ({
      cluster: input.cluster,
      mode: input.mode ?? 'builtin',
      topology: { primary: input.topology.primary, replicas: [...input.topology.replicas], fenced: [...input.topology.fenced] },
      positions: {},
      down: [],
      misses: 0,
      candidate: null,
      excluded: [],
      deadline: null,
      suspectSince: null,
      since: clock.now(),
      current: null,
      lastFailover: null,
    }),
    states: {
      healthy: {
        description: 'The primary answers its probes.',
        entry: 'enter',
        on: {
          'PROBE.OK': { actions: 'noteProbes' },
          'PROBE.TIMEOUT': [
            { guard: 'electOnMiss', target: 'electing', actions: ['noteProbes', 'miss', 'beginFailover', 'armElect', 'emitStarted'] },
            { target: 'suspect', actions: ['noteProbes', 'miss', 'armSuspect', 'emitSuspect'] },
          ],
          'PROBE.REFUSED': [
            { guard: 'builtin', target: 'electing', actions: ['noteProbes', 'beginFailover', 'armElect', 'emitStarted'] },
            { target: 'suspect', actions: ['noteProbes', 'miss', 'armSuspect', 'emitSuspect'] },
          ],
          'LEADER.CHANGED': { guard: 'newLeader', target: 'fencing', actions: ['adoptLeader', 'armFence', 'emitPromoted'] },
          'TOPOLOGY.SET': { actions: 'setTopology' },
          SWITCHOVER: { guard: 'switchoverPossible', target: 'electing', actions: ['beginSwitchover', 'armSwitchover', 'emitStarted'] },
        },
      },
      suspect: {
        description: 'Probes time out: the primary may be dead or only slow; one good probe clears it.',
        entry: 'enter',
        on: {
          'PROBE.OK': { target: 'healthy', actions: ['noteProbes', 'clearSuspect', 'emitRecovered'] },
          'PROBE.TIMEOUT': [
            { guard: 'electOnMiss', target: 'electing', actions: ['noteProbes', 'miss', 'beginFailover', 'armElect', 'emitStarted'] },
            { actions: ['noteProbes', 'miss'] },
          ],
          'PROBE.REFUSED': [
            { guard: 'builtin', target: 'electing', actions: ['noteProbes', 'beginFailover', 'armElect', 'emitStarted'] },
            { actions: ['noteProbes', 'miss'] },
          ],
          'LEADER.CHANGED': { guard: 'newLeader', target: 'fencing', actions: ['adoptLeader', 'armFence', 'emitPromoted'] },
        },
        // No probe result at all for N intervals: probes are bounded, so it is this daemon that stalled (CPU
        // starvation, a long pause), not evidence about the primary. Never a failover on it: the suspicion is
        // dropped and the next probe results decide again.
        after: { suspectTimeout: { guard: 'builtin', target: 'healthy', actions: ['clearSuspect', 'emitUnobserved'] } },
      },
      electing: {
        description: 'Collecting replica WAL positions to pick the most caught-up one (switchover: once the fenced primary\'s last WAL reached a candidate).',
        entry: 'enter',
        invoke: {
          id: 'collectLsns',
          src: 'collectLsns',
          // Every replica not fenced or excluded is asked: one a probe saw down a moment ago may answer now.
          input: ({ context }) => ({ cluster: context.cluster, nodes: candidatesOf({ ...context, down: [] }), ...(isSwitchover(context) ? { switchoverFrom: context.current!.oldPrimary } : {}) }),
          onDone: [
            { guard: 'candidateCollected', target: 'promoting', actions: ['notePositionsFromCollect', 'chooseCandidate', 'armPromote'] },
            { guard: 'switchover', target: 'unfencing', actions: ['notePositionsFromCollect', 'armUnfence'] },
            { target: 'degraded', actions: ['notePositionsFromCollect', 'armDegraded', 'emitDegraded'] },
          ],
          // A switchover that could not fence the primary or see a replica catch up is abandoned, never forced.
          onError: [
            { guard: 'switchover', target: 'unfencing', actions: ['armUnfence'] },
            { guard: 'candidateKnown', target: 'promoting', actions: ['chooseCandidate', 'armPromote'] },
            { target: 'degraded', actions: ['armDegraded', 'emitDegraded'] },
          ],
        },
        after: {
          electTimeout: [
            { guard: 'switchover', target: 'unfencing', actions: ['armUnfence'] },
            { guard: 'candidateKnown', target: 'promoting', actions: ['chooseCandidate', 'armPromote'] },
            { target: 'degraded', actions: ['armDegraded', 'emitDegraded'] },
          ],
        },
        // Nothing has changed yet: a primary that answers again is kept (a switchover's answers all along).
        on: { 'PROBE.OK': { guard: 'notSwitchover', target: 'healthy', actions: ['noteProbes', 'abandonFailover', 'emitRecovered'] } },
      },
      promoting: {
        description: 'Promoting the elected replica; on failure the next candidate is tried.',
        entry: 'enter',
        invoke: {
          id: 'promoteReplica',
          src: 'promoteReplica',
          input: ({ context }) => ({ cluster: context.cluster, node: context.candidate!, oldPrimary: context.current?.oldPrimary ?? context.topology.primary }),
          onDone: { target: 'repointing', actions: ['applyPromotion', 'armRepoint', 'emitPromoted'] },
          onError: [
            { guard: 'primaryAnswers', target: 'healthy', actions: ['emitAbandoned', 'abandonFailover'] },
            { guard: 'anotherCandidate', target: 'promoting', reenter: true, actions: ['excludeCandidate', 'chooseCandidate', 'armPromote'] },
            { guard: 'switchover', target: 'unfencing', actions: ['excludeCandidate', 'armUnfence'] },
            { target: 'degraded', actions: ['excludeCandidate', 'armDegraded', 'emitDegraded'] },
          ],
        },
        after: {
          promoteTimeout: [
            { guard: 'anotherCandidate', target: 'promoting', reenter: true, actions: ['fenceCandidate', 'excludeCandidate', 'chooseCandidate', 'armPromote'] },
            { guard: 'switchover', target: 'unfencing', actions: ['fenceCandidate', 'excludeCandidate', 'armUnfence'] },
            { target: 'degraded', actions: ['fenceCandidate', 'excludeCandidate', 'armDegraded', 'emitDegraded'] },
          ],
        },
      },
      repointing: {
        description: 'Pointing the remaining replicas at the new primary (best effort).',
        entry: 'enter',
        invoke: {
          id: 'repointReplicas',
          src: 'repointReplicas',
          input: ({ context }) => ({ cluster: context.cluster, primary: context.topology.primary, replicas: context.topology.replicas }),
          onDone: { target: 'fencing', actions: ['noteRepointed', 'armFence'] },
          onError: { target: 'fencing', actions: ['noteRepointFailed', 'armFence'] },
        },
        after: { repointTimeout: { target: 'fencing', actions: ['noteRepointFailed', 'armFence'] } },
      },
      fencing: {
        description: 'Fencing the old primary. Our writers already exclude it (topology.fenced); this makes it sure.',
        entry: 'enter',
        invoke: {
          id: 'fenceNode',
          src: 'fenceNode',
          input: ({ context }) => ({ cluster: context.cluster, node: context.current?.oldPrimary ?? '' }),
          onDone: { target: 'healthy', actions: ['completeFenced', 'emitCompleted'] },
          onError: { target: 'healthy', actions: ['completeUnfenced', 'emitCompleted'] },
        },
        after: { fenceTimeout: { target: 'healthy', actions: ['completeUnfenced', 'emitCompleted'] } },
      },
      unfencing: {
        description: 'A switchover promoted nobody: the old primary, fenced for it, is made writable again and kept.',
        entry: 'enter',
        invoke: {
          id: 'unfenceNode',
          src: 'unfenceNode',
          input: ({ context }) => ({ cluster: context.cluster, node: context.current?.oldPrimary ?? context.topology.primary }),
          onDone: { target: 'healthy', actions: ['emitRestored', 'abandonFailover'] },
          onError: { target: 'healthy', actions: ['emitNotRestored', 'abandonFailover'] },
        },
        after: { unfenceTimeout: { target: 'healthy', actions: ['emitNotRestored', 'abandonFailover'] } },
      },
      degraded: {
        description: 'No replica could be promoted: the shard is down until the primary returns or an election succeeds.',
        entry: 'enter',
        on: {
          'PROBE.OK': { target: 'healthy', actions: ['noteProbes', 'abandonFailover', 'emitRecovered'] },
          RETRY: { target: 'electing', actions: ['clearExcluded', 'armElect'] },
          'TOPOLOGY.SET': { target: 'healthy', actions: ['setTopology', 'abandonFailover'] },
        },
        after: { degradedRetry: { target: 'electing', actions: ['clearExcluded', 'armElect'] } },
      },
    },
  });
}


export type FailoverMachine = ReturnType<typeof createFailoverMachine>;
