// Alerts for actors stopped by an error only an operator can fix (a revoked privilege, refused credentials):
// such an error is fatal — nothing is retried forever and no data is dead-lettered for it — so the actor
// crashes, its supervisor restarts it with backoff and parks it in a storm; this says why, once per actor and
// error every `everyMs` (not at every restart).
import { needsOperator } from '../../adapters/operator-errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { LifecycleEvent } from './system.ts';

export interface OperatorAlert {
  path: string;
  kind: string;
  source: string;
  error: string;
  at: number;
}

export function operatorAlerts(opts: { clock: Clock; everyMs: number; onAlert: (a: OperatorAlert) => void }): (e: LifecycleEvent) => void {
  const last = new Map<string, number>();
  return (e) => {
    if (e.type !== 'actor.crashed' || !needsOperator(e.errorSource)) return;
    const key = `${e.path} ${e.errorSource}`;
    const now = opts.clock.now();
    const prev = last.get(key);
    if (prev !== undefined && now - prev < opts.everyMs) return;
    last.set(key, now);
    opts.onAlert({ path: e.path, kind: e.kind, source: e.errorSource, error: e.error, at: now });
  };
}
