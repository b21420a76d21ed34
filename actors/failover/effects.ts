// The failover machine's effects on a real (or embedded) cluster, through ClusterControl: collect replica
// positions (for a switchover: fence the primary first and wait until a candidate has replayed its last WAL),
// promote, repoint, fence, and unfence a primary whose switchover promoted nobody.
import { fromPromise } from 'xstate';
import type { ClusterControl, FenceMode, NodeProbe } from '../../adapters/pg/port.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { compareLsn } from '../../machines/failover/lsn.ts';
import type { CollectLsnsInput, FenceInput, PromoteInput, RepointInput } from '../../machines/failover/types.ts';

export interface EffectDeps {
  control: ClusterControl;
  clock: Clock;
  logger: Logger;
  promoteTimeoutMs: number;
  /** How long a switchover waits for a candidate to replay the fenced primary's last WAL. */
  catchUpTimeoutMs: number;
  /** 'sessions' in Patroni mode: Patroni owns the nodes' configuration. */
  fenceMode: FenceMode;
}

/** Fences the primary read-only, then waits until a candidate has replayed everything it wrote. */
export async function fenceAndCatchUp(d: EffectDeps, primary: string, nodes: readonly string[]): Promise<NodeProbe[]> {
  d.logger.warn({ primary, candidates: nodes }, 'switchover: fencing the primary, waiting for a replica to catch up');
  await d.control.fence(primary, 'read-only');
  const p = await d.control.probeNode(primary);
  // A fenced PostgreSQL primary is still a primary (read-only by setting); the embedded stand-in demotes it.
  const final = p.currentLsn ?? p.replayLsn;
  if (!final) throw new Error(`switchover: cannot read the WAL position of ${primary} after fencing it`);
  const deadline = d.clock.now() + d.catchUpTimeoutMs;
  for (;;) {
    const probes = await Promise.all(nodes.map((n) => d.control.probeNode(n)));
    if (probes.some((p) => p.up && compareLsn(p.replayLsn, final) >= 0)) return probes;
    if (d.clock.now() >= deadline) throw new Error(`switchover: no replica of ${nodes.join(', ')} replayed ${primary}'s last WAL (${final}) within ${d.catchUpTimeoutMs} ms`);
    await sleep(d.clock, 20);
  }
}

export function failoverEffects(d: EffectDeps) {
  const { control } = d;
  return {
    collectLsns: fromPromise<NodeProbe[], CollectLsnsInput>(async ({ input }) => {
      if (input.switchoverFrom) return fenceAndCatchUp(d, input.switchoverFrom, input.nodes);
      return Promise.all(input.nodes.map((n) => control.probeNode(n)));
    }),
    promoteReplica: fromPromise<void, PromoteInput>(async ({ input }) => {
      d.logger.warn({ node: input.node, oldPrimary: input.oldPrimary }, 'promoting replica');
      await control.promote(input.node, d.promoteTimeoutMs);
    }),
    repointReplicas: fromPromise<void, RepointInput>(async ({ input }) => {
      for (const r of input.replicas) await control.repoint(r, input.primary);
    }),
    fenceNode: fromPromise<void, FenceInput>(async ({ input }) => control.fence(input.node, d.fenceMode)),
    unfenceNode: fromPromise<void, FenceInput>(async ({ input }) => {
      d.logger.warn({ node: input.node }, 'switchover abandoned: making the old primary writable again');
      await control.unfence(input.node);
    }),
  };
}
