// Metrics derived from the inspection stream, so that no feature has to remember to set them: breaker state
// and transitions (machines `breaker:<name>`), failover state (`failover:<cluster>`; the failover feature
// counts failovers and their durations itself), and retries (`retry:<component>[:…]`, counted when a retry
// machine backs off or reroutes after an attempt, by error class).
import type { Metrics } from '../../lib/metrics.ts';
import type { MachineRecord } from '../../machines/inspection.ts';
import { kindOf } from './machine-directory.ts';

interface AttemptLike {
  class?: string;
}

export function createMachineMetrics(metrics: Metrics, states: { breaker: string[]; failover: string[] }): (r: MachineRecord) => void {
  const setOneHot = (gauge: typeof metrics.breakerState, labelName: string, label: string, all: string[], current: string) => {
    for (const s of all) gauge.set({ [labelName]: label, state: s }, s === current ? 1 : 0);
  };

  return (r) => {
    if (r.type === 'machine.stop') return;
    const { kind, name } = kindOf(r.machineId);
    const label = name || kind;
    if (kind === 'breaker') {
      setOneHot(metrics.breakerState, 'breaker', label, states.breaker, r.to);
      if (r.type === 'machine.transition' && r.from !== null && r.from !== r.to) metrics.breakerTransitions.inc({ breaker: label, from: r.from, to: r.to });
    } else if (kind === 'failover') {
      setOneHot(metrics.failoverState, 'cluster', label, states.failover, r.to);
    } else if (kind === 'retry' && r.type === 'machine.transition' && (r.to === 'backing-off' || r.to === 'rerouting') && r.from === 'attempting') {
      const history = ((r.context ?? {}) as { history?: AttemptLike[] }).history ?? [];
      const component = name.split(':')[0] || 'unnamed';
      metrics.retries.inc({ component, class: history[history.length - 1]?.class ?? (r.to === 'rerouting' ? 'reroute' : 'retry') });
    }
  };
}
