// The failover machine's effects on a real (or embedded) cluster, through ClusterControl: collect replica
// positions (for a switchover: fence the primary first and wait until a candidate has replayed its last WAL),
// promote, repoint, fence, and unfence a primary whose switchover promoted nobody. Promotion is idempotent: a
// leader that takes over mid-failover finds the node its predecessor promoted writable, elects it, and does
// not promote another one (nor that one again).
import { fromPromise } from 'xstate';
import type { ClusterControl, FenceMode, NodeProbe } from '../../adapters/pg/port.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { compareLsn } from '../../machines/failover/lsn.ts';
import { PrimaryAnswersError, type CollectLsnsInput, type FenceInput, type PromoteInput, type RepointInput } from '../../machines/failover/types.ts';

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

/** A candidate that already accepts writes was promoted by an earlier leader: it is the only candidate then. */
export function preferPromoted(probes: NodeProbe[]): NodeProbe[] {
  const promoted = probes.filter((p) => p.up && p.role === 'primary' && !p.readOnly).sort((a, b) => (b.timeline ?? 0) - (a.timeline ?? 0))[0];
  return promoted ? probes.map((p) => (p === promoted ? p : { ...p, up: false, error: `${promoted.name} was promoted already` })) : probes;
}

/**
 * Right before a promotion: the old primary is asked once more (bounded). One that answers as a writable primary
 * is alive — its probes timed out on a starved machine, or it was paused and resumed — and promoting a replica
 * now would make two primaries: PrimaryAnswersError, the failover is abandoned. A switchover's primary is fenced
 * read-only first, so it never stops its own switchover.
 */
export async function refuseIfPrimaryAnswers(control: Pick<ClusterControl, 'probeNode'>, oldPrimary: string, candidate: string): Promise<void> {
  if (!oldPrimary || oldPrimary === candidate) return;
  const p = await control.probeNode(oldPrimary);
  if (p.up && p.role === 'primary' && !p.readOnly) throw new PrimaryAnswersError(oldPrimary);
}

/**
 * The promotion step: a candidate an earlier leader promoted already is finished (whatever the old primary says
 * now — abandoning then would leave two writable primaries); else the old primary is asked once more
 * (refuseIfPrimaryAnswers), then pg_promote.
 */
export async function promoteOrFinish(d: Pick<EffectDeps, 'control' | 'logger' | 'promoteTimeoutMs'>, input: PromoteInput): Promise<void> {
  // The promotion's session opens while the candidate and the old primary are asked (at once, not one after the
  // other): on a loaded machine each of these took a few hundred milliseconds of the failover.
  d.control.prepare?.(input.node, d.promoteTimeoutMs);
  const asked = refuseIfPrimaryAnswers(d.control, input.oldPrimary, input.node);
  asked.catch(() => undefined);
  const p = await d.control.probeNode(input.node);
  if (p.up && p.role === 'primary' && !p.readOnly) {
    d.logger.warn({ node: input.node, oldPrimary: input.oldPrimary, timeline: p.timeline }, 'replica already promoted (by an earlier leader): finishing its failover');
    return;
  }
  await asked;
  // The monitor's promote step logs `promoting replica` and counts it right before pg_promote: a step the
  // leadership check refuses, or a failover abandoned after the cascade, is not a promotion.
  await d.control.promote(input.node, d.promoteTimeoutMs);
}

export function failoverEffects(d: EffectDeps) {
  const { control } = d;
  return {
    collectLsns: fromPromise<NodeProbe[], CollectLsnsInput>(async ({ input }) => {
      if (input.switchoverFrom) return fenceAndCatchUp(d, input.switchoverFrom, input.nodes);
      const probes = preferPromoted(await Promise.all(input.nodes.map((n) => control.probeNode(n))));
      d.logger.warn({ candidates: probes.map((p) => ({ node: p.name, up: p.up, role: p.role, receiveLsn: p.receiveLsn, timeline: p.timeline, error: p.error })) }, 'replica positions collected for the election');
      return probes;
    }),
    promoteReplica: fromPromise<void, PromoteInput>(async ({ input }) => promoteOrFinish(d, input)),
    repointReplicas: fromPromise<void, RepointInput>(async ({ input }) => {
      // Each replica in turn; one that fails is said and the others are still repointed (the monitor's replica
      // check repoints it later, once the cluster is healthy).
      const failed: string[] = [];
      for (const r of input.replicas) {
        await control.repoint(r, input.primary).catch((err: unknown) => {
          failed.push(r);
          d.logger.warn({ replica: r, primary: input.primary, err: errorMessage(err) }, 'could not repoint a replica at the new primary (checked again once healthy)');
        });
      }
      if (failed.length > 0) throw new Error(`${input.cluster}: could not repoint ${failed.join(', ')} at ${input.primary}`);
    }),
    fenceNode: fromPromise<void, FenceInput>(async ({ input }) => control.fence(input.node, d.fenceMode)),
    unfenceNode: fromPromise<void, FenceInput>(async ({ input }) => {
      d.logger.warn({ node: input.node }, 'switchover abandoned: making the old primary writable again');
      await control.unfence(input.node);
    }),
  };
}
