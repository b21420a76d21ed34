// JSON-able definitions of every machine (states and transitions) for the visualizer. The shapes do not
// depend on configuration, so they are built once from default settings and a clock that is never read.
import { systemClock } from '../lib/clock.ts';
import { createBreakerMachine } from './breaker/machine.ts';
import { describeMachine, type MachineDefinition } from './describe.ts';
import { createFailoverMachine } from './failover/machine.ts';
import { createRetryMachine } from './retry/machine.ts';

export function machineDefinitions(): Record<'breaker' | 'retry' | 'failover', MachineDefinition> {
  return {
    breaker: describeMachine(createBreakerMachine({ failureRateThreshold: 0.5, slowCallRateThreshold: 0.8, openMs: 1_000, openMaxMs: 30_000, openMultiplier: 2, halfOpenProbes: 3 }, { clock: systemClock })),
    retry: describeMachine(createRetryMachine({ clock: systemClock })),
    failover: describeMachine(createFailoverMachine({ probeIntervalMs: 500, probeTimeoutMs: 1_000, suspectAfterMisses: 3 }, { clock: systemClock })),
  };
}
