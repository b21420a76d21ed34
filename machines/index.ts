// The machines' public surface: breaker, retry/backoff, failover, their inspection bus and definitions.
export { createMachineActor, rearmTimers, type MachineActorOptions } from './create-machine-actor.ts';
export { createInspectionBus, type InspectionBus, type MachineRecord, type MachineRecordListener } from './inspection.ts';
export { describeMachine, type MachineDefinition, type StateDescription, type TransitionDescription } from './describe.ts';
export { machineDefinitions } from './definitions.ts';

export { createBreaker, restoreBreaker, type Breaker, type BreakerOptions, type BreakerSnapshot, type BreakerStats, type BreakerTransition, type CallOutcome, type OperatorState } from './breaker/breaker.ts';
export { BreakerOpenError, defaultErrorFilter, isBreakerOpenError, type ErrorFilter, type ErrorVerdict } from './breaker/errors.ts';
export { createBreakerMachine, openWaitMs, type BreakerContext, type BreakerEvent, type BreakerMachine, type BreakerState, type TripInfo } from './breaker/machine.ts';
export { CountWindow, TimeWindow, createWindow, type SlidingWindow, type TripReason, type WindowCounts } from './breaker/window.ts';

export { createRetryMachine, defaultRetryPolicy, type AttemptRecord, type RetryContext, type RetryMachine, type RetryOutcome, type RetryPolicy } from './retry/machine.ts';
export { runWithRetry, type AttemptContext, type RetryResult, type RunWithRetryOptions } from './retry/run-with-retry.ts';

export { createFailoverMachine, candidatesOf, type FailoverContext, type FailoverEmitted, type FailoverEvent, type FailoverInput, type FailoverMachine, type FailoverMachineConfig, type FailoverSummary } from './failover/machine.ts';
export { electReplica, type ReplicaPosition } from './failover/election.ts';
export { compareLsn, parseLsn } from './failover/lsn.ts';
export { probeToEvent } from './failover/probe-event.ts';
