// The failover machine's vocabulary: configuration, context, input, events it takes and events it emits,
// and the inputs of the effects the caller provides.
import type { NodeProbe, Topology } from '../../adapters/pg/port.ts';
import type { ReplicaPosition } from './election.ts';

export type FailoverMode = 'builtin' | 'patroni';
export type FailoverReason = 'refused' | 'timeouts' | 'leader-changed' | 'switchover';

export interface FailoverMachineConfig {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  /** Probe timeouts in a row before a hung primary is declared dead (a refused connection acts at once). */
  suspectAfterMisses: number;
  electTimeoutMs?: number;
  promoteTimeoutMs?: number;
  repointTimeoutMs?: number;
  fenceTimeoutMs?: number;
  /** Switchover: fencing the primary and waiting for a replica to catch up with it, before giving up. */
  switchoverTimeoutMs?: number;
  /** Undoing the fence of a primary whose switchover promoted nobody (default: fenceTimeoutMs). */
  unfenceTimeoutMs?: number;
  /** How long to stay degraded (no replica could be promoted) before trying an election again. */
  degradedRetryMs?: number;
}

export interface FailoverInProgress {
  reason: FailoverReason;
  oldPrimary: string;
  /** First sign of trouble (first missed probe), for detection-to-recovery durations. */
  detectedAt: number;
  startedAt: number;
  newPrimary: string | null;
  promotedAt: number | null;
  repointed: boolean | null;
  /** Switchover: the replica the operator asked for (null or absent: the most caught-up one). */
  target?: string | null;
}

export interface FailoverSummary {
  cluster: string;
  reason: FailoverReason;
  from: string;
  to: string;
  detectedAt: number;
  startedAt: number;
  promotedAt: number;
  completedAt: number;
  /** From detection to completion. */
  durationMs: number;
  repointed: boolean;
  fenceConfirmed: boolean;
}

export interface FailoverContext {
  cluster: string;
  mode: FailoverMode;
  topology: Topology;
  /** Last known WAL positions of the replicas. */
  positions: Record<string, ReplicaPosition>;
  /** Replicas the last probe saw down (not candidates). */
  down: string[];
  misses: number;
  candidate: string | null;
  /** Candidates that failed to promote during this failover. */
  excluded: string[];
  /** Absolute time the current state's timer fires, or null. */
  deadline: number | null;
  suspectSince: number | null;
  since: number;
  current: FailoverInProgress | null;
  lastFailover: FailoverSummary | null;
}

export interface FailoverInput {
  cluster: string;
  topology: Topology;
  mode?: FailoverMode;
}

/** Probe events are about the current primary (context.topology.primary); `probes` may carry replica positions. */
export type FailoverEvent =
  | { type: 'PROBE.OK'; probes?: NodeProbe[] }
  | { type: 'PROBE.TIMEOUT'; probes?: NodeProbe[] }
  | { type: 'PROBE.REFUSED'; probes?: NodeProbe[] }
  | { type: 'LEADER.CHANGED'; leader: string }
  /** Planned switchover (builtin mode, healthy only): fence the primary, promote `target` or the most caught-up replica. */
  | { type: 'SWITCHOVER'; target?: string }
  | { type: 'TOPOLOGY.SET'; topology: Topology }
  | { type: 'RETRY' };

export type FailoverEmitted =
  | { type: 'failover.suspect'; cluster: string; misses: number }
  | { type: 'failover.recovered'; cluster: string }
  /** Suspect, then no probe result at all for as long as the misses would take: this daemon stalled; suspicion dropped. */
  | { type: 'failover.unobserved'; cluster: string }
  /** Just before the promotion the old primary answered as a writable primary: nothing was promoted. */
  | { type: 'failover.abandoned'; cluster: string; primary: string; candidate: string | null }
  | { type: 'failover.started'; cluster: string; reason: FailoverReason; oldPrimary: string }
  | { type: 'topology.promoted'; cluster: string; from: string; to: string; topology: Topology }
  | { type: 'failover.degraded'; cluster: string; oldPrimary: string }
  /** A switchover promoted nobody; `restored`: the old primary was made writable again. */
  | { type: 'failover.aborted'; cluster: string; oldPrimary: string; restored: boolean }
  | { type: 'failover.completed'; summary: FailoverSummary };

export interface CollectLsnsInput {
  cluster: string;
  nodes: string[];
  /** Switchover: fence this (still running) primary first, then collect once a candidate has caught up with it. */
  switchoverFrom?: string;
}
export interface PromoteInput {
  cluster: string;
  node: string;
  oldPrimary: string;
}
export interface RepointInput {
  cluster: string;
  primary: string;
  replicas: string[];
}
export interface FenceInput {
  cluster: string;
  node: string;
}


/**
 * Thrown by a promotion effect that found the old primary answering as a writable primary right before it would
 * promote: the failover is abandoned (a slow daemon or a primary back from a pause must never cost a split brain).
 */
export class PrimaryAnswersError extends Error {
  readonly code = 'TS_PRIMARY_ANSWERS';
  constructor(readonly primary: string) {
    super(`the old primary ${primary} answers as a writable primary: not promoting`);
  }
}
