// The operator's handle on the read side's breakers (cache shards and per-cluster database reads), offered to
// the dashboard as `controls.breakers` (see features/controls.ts).
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import type { Breaker, OperatorState } from '../../machines/index.ts';

export interface ReadBreakerView {
  name: string;
  state: string;
  guards: string;
  retryAt: number | null;
  trips: number;
  rejected: number;
}

export interface ReadBreakerControl {
  list(): ReadBreakerView[];
  /** 'auto' (same as 'closed') hands the breaker back to its machine: closed, counting, free to trip. */
  force(name: string, state: OperatorState | 'auto'): void;
}

const STATES: ReadonlySet<string> = new Set(['open', 'closed', 'disabled', 'metrics-only', 'auto']);

export function createBreakerControl(entries: Array<{ breaker: Breaker; guards: string }>): ReadBreakerControl {
  return {
    list: () =>
      entries.map(({ breaker, guards }) => {
        const s = breaker.stats();
        return { name: breaker.name, state: s.state, guards, retryAt: s.retryAt, trips: s.trips, rejected: s.rejected };
      }),
    force(name, state) {
      const entry = entries.find((e) => e.breaker.name === name);
      if (!entry) throw new TagstreamError(ErrorCodes.BAD_REQUEST, `no read breaker named "${name}"; known: ${entries.map((e) => e.breaker.name).join(', ')}`);
      if (!STATES.has(state)) throw new TagstreamError(ErrorCodes.BAD_REQUEST, `state must be one of ${[...STATES].join(', ')} (got "${String(state)}")`);
      entry.breaker.force(state === 'auto' ? 'closed' : state);
    },
  };
}
