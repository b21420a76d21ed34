// LeaderElection: one member of a deployment leads, chosen by the group membership of an engine the deployment
// already runs (Kafka: the member assigned partition 0 of a one-partition control topic, as Confluent Schema
// Registry elects its primary). Real: KafkaLeaderElection. Embedded: MemoryLeaderElection (one process leads).

export interface Leadership {
  /** This member owns the control partition (as of its last join). */
  leader: boolean;
  /** Stable id of this daemon process (not the group's member id, which changes at every rejoin). */
  daemonId: string;
  /** The group's member id of this process, null before the first join. */
  memberId: string | null;
  /** Joins of this member so far (each rebalance it takes part in is one). */
  joins: number;
  /** Clock ms of the last change of `leader`. */
  since: number;
}

export interface LeaderElection {
  /** Creates the control topic if it is missing (compacted, one partition). Bounded; throws if it cannot. */
  prepare(): Promise<void>;
  /** Joins the group in the background: never blocks start-up on the group. */
  join(): void;
  leadership(): Leadership;
  /**
   * A fresh check: this member owns the partition and the group confirmed its membership (a heartbeat or a
   * join) within the lease (half the session timeout). False after a pause past the lease (SIGSTOP, GC) until
   * the group answers again.
   */
  leadsNow(): boolean;
  /** The group has not confirmed this member for longer than the lease: whatever it led, it leads no more. */
  leaseExpired(): boolean;
  onChange(listener: (l: Leadership) => void): () => void;
  /** How long the group waits for a silent member before another one takes over. */
  readonly sessionTimeoutMs: number;
  /** The one-partition control topic (election and decision records). */
  readonly topic: string;
  stop(): Promise<void>;
}
