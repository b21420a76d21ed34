// What the actor tree says about readiness (/readyz, /status): a stopped actor is not doing its work, and the
// loops the daemon cannot serve without — the ingest and the failover monitors — are not ready while their
// supervisor restarts them either (a shard writer restarting is the breaker's and the hold's business).
import type { ActorInfo } from './system.ts';

/** Kinds whose restart makes the daemon not ready until it is running again: the ingest and the failover monitors. */
const ESSENTIAL: ReadonlySet<string> = new Set(['ingest', 'cluster-monitor']);

export function actorsNotReady(actors: readonly ActorInfo[]): string[] {
  const reasons: string[] = [];
  for (const a of actors) {
    const why = a.lastError ? ` (${a.lastError})` : '';
    if (a.status === 'stopped') reasons.push(`actor ${a.path} is stopped${why}`);
    else if (a.status !== 'running' && ESSENTIAL.has(a.kind)) reasons.push(`actor ${a.path} is ${a.status}${why}`);
  }
  return reasons;
}
