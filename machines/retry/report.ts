// Supervision restarts on the retry telemetry. The runtime restarts an actor after the delay its policy chose
// (actors/runtime/policy.ts, with the retry machine's own policy functions); no machine instance runs the
// restart, so the decision is published as the transition the retry machine would take from 'attempting':
// to 'backing-off' (restart after delayMs) or to 'exhausted' (a restart storm: escalate). The dashboard's
// retry card and tagstream_retries_total read it like any retry machine's.
import { classify } from '../../lib/classify.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { InspectionBus } from '../inspection.ts';
import { retryMachineId } from './kinds.ts';
import type { AttemptRecord } from './machine.ts';
import type { RetryPolicy, RetryStep } from './policy.ts';

export interface RestartReport {
  /** The actor's path in the supervision tree. */
  path: string;
  at: number;
  /** Crashes within the intensity window, this one included. */
  failures: number;
  error: unknown;
  policy: RetryPolicy;
  step: RetryStep;
}

export function reportRestart(inspect: Pick<InspectionBus, 'publish'>, r: RestartReport): void {
  const c = classify(r.error);
  const e = (typeof r.error === 'object' && r.error !== null ? r.error : {}) as { code?: unknown; name?: unknown };
  const record: AttemptRecord = { attempt: r.failures, at: r.at, durationMs: 0, class: c.class, source: c.source, ...(typeof e.code === 'string' ? { code: e.code } : {}), name: typeof e.name === 'string' ? e.name : typeof r.error, message: errorMessage(r.error) };
  const giveUp = r.step.kind === 'give-up';
  inspect.publish({
    machineId: retryMachineId('supervision-restart', r.path),
    type: 'machine.transition',
    from: 'attempting',
    to: giveUp ? 'exhausted' : 'backing-off',
    event: { type: 'xstate.error.actor.attempt', error: { name: record.name, message: record.message, ...(record.code ? { code: record.code } : {}) } },
    transitions: [],
    at: r.at,
    context: { policy: r.policy, attempt: r.failures, history: [record], deadline: r.step.kind === 'retry' ? r.at + r.step.delayMs : null, outcome: giveUp ? 'exhausted' : null },
  });
}
