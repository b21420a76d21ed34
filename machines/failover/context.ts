// Pure helpers over the failover context: who may be promoted, what probes say about replica positions, and
// the summary written when a failover completes.
import type { NodeProbe } from '../../adapters/pg/port.ts';
import type { FailoverContext, FailoverInProgress, FailoverSummary } from './types.ts';

export const uniq = (xs: string[]) => [...new Set(xs)];

/** Replicas that may still be promoted: not fenced, not excluded, not seen down (during a switchover: its target, if named). */
export function candidatesOf(ctx: Pick<FailoverContext, 'topology' | 'excluded' | 'down'> & { current?: Pick<FailoverInProgress, 'target'> | null }): string[] {
  const target = ctx.current?.target ?? null;
  return ctx.topology.replicas.filter((r) => !ctx.excluded.includes(r) && !ctx.down.includes(r) && !ctx.topology.fenced.includes(r) && (target === null || r === target));
}

export const isSwitchover = (ctx: Pick<FailoverContext, 'current'>): boolean => ctx.current?.reason === 'switchover';

export function positionsFrom(probes: readonly NodeProbe[] | undefined, ctx: FailoverContext, now: number): Pick<FailoverContext, 'positions' | 'down'> {
  if (!probes || probes.length === 0) return { positions: ctx.positions, down: ctx.down };
  const positions = { ...ctx.positions };
  const down = new Set(ctx.down);
  for (const p of probes) {
    if (p.name === ctx.topology.primary) continue;
    if (p.up) {
      positions[p.name] = { receive: p.receiveLsn ?? null, replay: p.replayLsn ?? null, at: now };
      down.delete(p.name);
    } else {
      down.add(p.name);
    }
  }
  return { positions, down: [...down] };
}

/** collectLsns answered: every asked node missing from the answer or not up is down. */
export function positionsFromCollect(nodes: readonly string[], probes: readonly NodeProbe[], ctx: FailoverContext, now: number): Pick<FailoverContext, 'positions' | 'down'> {
  const { positions, down } = positionsFrom(probes, ctx, now);
  const seenUp = new Set(probes.filter((p) => p.up).map((p) => p.name));
  return { positions, down: uniq([...down, ...nodes.filter((n) => !seenUp.has(n))]) };
}


export function complete(context: FailoverContext, fenceConfirmed: boolean, now: number): Partial<FailoverContext> {
  const cur = context.current;
  const lastFailover: FailoverSummary | null = cur
    ? {
        cluster: context.cluster,
        reason: cur.reason,
        from: cur.oldPrimary,
        to: context.topology.primary,
        detectedAt: cur.detectedAt,
        startedAt: cur.startedAt,
        promotedAt: cur.promotedAt ?? now,
        completedAt: now,
        durationMs: now - cur.detectedAt,
        repointed: cur.repointed ?? false,
        fenceConfirmed,
      }
    : context.lastFailover;
  return { lastFailover, current: null, candidate: null, excluded: [], misses: 0, suspectSince: null, deadline: null };
}

