// The failover monitor is a supervised actor (issue 15 item 1): a probe round that crashes (a defect) is
// restarted with backoff — readiness names the monitor meanwhile — and the restarted monitor still fails over a
// killed primary; a retryable failure of a round is logged and the next round goes on, no crash.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PgliteShardStore } from '../../../adapters/pg/pglite-shard-store.ts';
import type { ClusterMonitor } from '../../../actors/failover/cluster-monitor.ts';
import { spawnMonitorActor } from '../../../actors/failover/monitor-actor.ts';
import { restartWithBackoff } from '../../../actors/runtime/policy.ts';
import { actorsNotReady } from '../../../actors/runtime/readiness.ts';
import { ActorSystem } from '../../../actors/runtime/system.ts';
import { systemClock } from '../../../lib/clock.ts';
import { ErrorCodes, TagstreamError } from '../../../lib/errors.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { createTestMonitor, embeddedCluster } from '../../support/cluster-monitor.ts';

const NODES = ['pgm-n0', 'pgm-n1', 'pgm-n2'];

describe('the cluster monitor actor', () => {
  let monitor: ClusterMonitor | undefined;
  let store: PgliteShardStore | undefined;
  let system: ActorSystem | undefined;
  afterEach(async () => {
    await monitor?.stop();
    system?.shutdown();
    await store?.close();
  });

  it('a round that crashes is restarted with backoff (not ready meanwhile); a retryable one is not; the restarted monitor fails over', async () => {
    store = await embeddedCluster('pgm', NODES);
    const s = store;
    let fault: 'none' | 'defect' | 'timeout' = 'none';
    const probe = s.probe.bind(s);
    let rounds = 0;
    Object.assign(s, {
      probe: async () => {
        rounds++;
        if (fault === 'defect') throw new TypeError('a defect in the round');
        if (fault === 'timeout') throw new TagstreamError(ErrorCodes.TIMEOUT, 'probe timed out', { retriable: true });
        return probe();
      },
    });
    monitor = createTestMonitor(s, { machine: { probeIntervalMs: 20, probeTimeoutMs: 200, suspectAfterMisses: 2 } });
    system = new ActorSystem({ clock: systemClock, logger: silentLogger() });
    const root = system.spawn({ name: 'tagstream', kind: 'supervisor', init: () => null, receive: (x: null) => x });
    const actor = spawnMonitorActor(system, monitor, root, { policy: restartWithBackoff({ backoff: { initialMs: 300, multiplier: 2, maxMs: 1_000, jitter: 0 }, maxRestarts: 5, withinMs: 60_000 }), clock: systemClock });
    monitor.start(actor.mailbox);
    await vi.waitFor(() => expect(rounds).toBeGreaterThan(3), { timeout: 5_000, interval: 5 });

    // Retryable: logged, the rounds go on, the actor never crashes.
    fault = 'timeout';
    const before = rounds;
    await vi.waitFor(() => expect(rounds).toBeGreaterThan(before + 3), { timeout: 5_000, interval: 5 });
    expect(actor.handle.info()).toMatchObject({ status: 'running', restarts: 0 });

    // A defect: crashed, restarted with backoff; readiness says so while it waits.
    fault = 'defect';
    await vi.waitFor(() => expect(actor.handle.info().status).toBe('restarting'), { timeout: 5_000, interval: 1 });
    expect(actorsNotReady(system.tree())).toEqual(['actor /tagstream/pgm is restarting (a defect in the round)']);
    fault = 'none';
    await vi.waitFor(() => expect(actor.handle.info()).toMatchObject({ status: 'running', restarts: 1 }), { timeout: 5_000, interval: 5 });
    expect(actorsNotReady(system.tree())).toEqual([]);

    // Still doing its job: the primary dies, a replica is promoted and the store routes to it.
    s.embedded.killNode('pgm-n0');
    await vi.waitFor(() => expect(monitor!.status().lastFailover).toMatchObject({ from: 'pgm-n0' }), { timeout: 10_000, interval: 20 });
    expect(NODES.slice(1)).toContain(s.topology().primary);
  }, 60_000);
});
