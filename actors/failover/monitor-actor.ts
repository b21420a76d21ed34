// A cluster's failover monitor as a supervised actor (/tagstream/monitors/<cluster>): each probe round is a
// message to it, and the next round is asked for a probe interval after one ends. A round that crashes (a
// defect: retryable backend errors are the round's own business) is restarted with backoff by its supervisor —
// readiness says so meanwhile — and the restarted monitor plans nothing on what it believed before it crashed:
// a fresh failover machine on the store's routing, the latest decision read again (ClusterMonitor.restarted).
import type { Clock } from '../../lib/clock.ts';
import type { Policy } from '../runtime/policy.ts';
import type { ActorHandle, ActorSystem } from '../runtime/system.ts';
import type { ClusterMonitor, MonitorMailbox } from './cluster-monitor.ts';

export type MonitorMsg = { type: 'monitor.round' };

export function spawnMonitorActor(system: ActorSystem, monitor: ClusterMonitor, parent: ActorHandle<unknown>, opts: { policy: Policy<MonitorMsg>; clock: Clock }): { handle: ActorHandle<MonitorMsg>; mailbox: MonitorMailbox } {
  let spawned = false;
  const next = () => {
    if (monitor.stopped) return;
    opts.clock.setTimeout(() => void (monitor.stopped || handle.tell({ type: 'monitor.round' })), monitor.probeIntervalMs);
  };
  const handle: ActorHandle<MonitorMsg> = system.spawn<null, MonitorMsg>(
    {
      name: monitor.cluster,
      kind: 'cluster-monitor',
      init: () => {
        if (spawned) monitor.restarted(); // a restart (nact re-initialises the state)
        spawned = true;
        return null;
      },
      receive: async (state) => {
        try {
          await monitor.roundOnce();
        } finally {
          next(); // after a crash too: the round asked for then waits for the restart in the mailbox
        }
        return state;
      },
      policy: opts.policy,
      mailboxCapacity: 4,
    },
    parent,
  );
  return { handle, mailbox: { round: () => void handle.tell({ type: 'monitor.round' }) } };
}
