// Deadlines live in machine context as absolute clock times; named delays are computed from them, so a
// restored machine (create-machine-actor re-arms its timers) fires at the original moment, not a full delay later.
import type { Clock } from '../lib/clock.ts';

export function untilDeadline(clock: Clock, deadline: number | null): number {
  return deadline === null ? 0 : Math.max(0, deadline - clock.now());
}
