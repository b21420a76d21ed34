// LeaderElection over Kafka's group protocol: every daemon joins one consumer group on a one-partition control
// topic; the member assigned partition 0 leads (Confluent Schema Registry's KafkaGroupLeaderElector does the
// same with its own group protocol). Our assigner is sticky: a member that held the partition with a live lease
// keeps it across rebalances (a daemon joining does not move leadership); otherwise the lowest member id gets it.
// The lease: a member leads only while the group confirmed it (join or heartbeat) within half the session
// timeout, so a process paused past its session (SIGSTOP, GC) stops leading the moment it wakes.
import kafkajs, { type Admin, type Consumer, type PartitionAssigner } from 'kafkajs';
import type { Clock } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { deadline } from './delivery.ts';
import { toKafkaError } from './errors.ts';
import type { KafkaClient } from './kafka-client.ts';
import type { LeaderElection, Leadership } from './leader-election-port.ts';

const { AssignerProtocol } = kafkajs;
const ASSIGNER = 'TagstreamLeaderAssigner';

export interface KafkaLeaderElectionOptions {
  kafka: KafkaClient;
  clock: Clock;
  logger: Logger;
  daemonId: string;
  groupId: string;
  topic: string;
  sessionTimeoutMs: number;
  /** Bound of creating the control topic. */
  adminTimeoutMs?: number;
}

interface Claim {
  daemonId: string;
  /** The member held the partition with a live lease when it (re)joined. */
  holds: boolean;
}

/** Picks the member that leads: the one that holds it (lowest member id among several), else the lowest id. */
export function chooseLeader(members: Array<{ memberId: string; claim: Claim | null }>): string | null {
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  return (sorted.find((m) => m.claim?.holds) ?? sorted[0])?.memberId ?? null;
}

function decodeClaim(metadata: Buffer): Claim | null {
  try {
    const m = AssignerProtocol.MemberMetadata.decode(metadata);
    if (!m?.userData || m.userData.length === 0) return null;
    return JSON.parse(m.userData.toString('utf8')) as Claim;
  } catch {
    return null;
  }
}

function topicExists(err: unknown): boolean {
  const e = err as { type?: unknown; errors?: unknown[] };
  if (e?.type === 'TOPIC_ALREADY_EXISTS') return true;
  return Array.isArray(e?.errors) && e.errors.length > 0 && e.errors.every(topicExists);
}

export class KafkaLeaderElection implements LeaderElection {
  private readonly consumer: Consumer;
  private state: Leadership;
  private confirmedAt = -Infinity;
  /** Owned the partition at the last join (kept through a rebalance, unlike `leader`: the claim to keep it). */
  private owned = false;
  /** Between a rebalance notice and the next join: the member may not act (leadsNow) but keeps its claim. */
  private rebalancing = false;
  private readonly listeners = new Set<(l: Leadership) => void>();
  private stopped = false;

  constructor(private readonly opts: KafkaLeaderElectionOptions) {
    this.state = { leader: false, daemonId: opts.daemonId, memberId: null, joins: 0, since: opts.clock.now() };
    const self = this;
    const assigner: PartitionAssigner = () => ({
      name: ASSIGNER,
      version: 0,
      async assign({ members, topics }) {
        const leader = chooseLeader(members.map((m) => ({ memberId: m.memberId, claim: decodeClaim(m.memberMetadata) })));
        return members.map((m) => ({
          memberId: m.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: m.memberId === leader ? Object.fromEntries(topics.map((t) => [t, [0]])) : {}, userData: Buffer.alloc(0) }),
        }));
      },
      protocol({ topics }) {
        const claim: Claim = { daemonId: opts.daemonId, holds: self.owned && self.leaseFresh() };
        return { name: ASSIGNER, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.from(JSON.stringify(claim)) }) };
      },
    });
    const heartbeatInterval = Math.max(100, Math.floor(opts.sessionTimeoutMs / 6));
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      partitionAssigners: [assigner],
      sessionTimeout: opts.sessionTimeoutMs,
      // A member that does not rejoin within this is dropped from the rebalance: a stopped daemon does not hold it up.
      rebalanceTimeout: opts.sessionTimeoutMs,
      heartbeatInterval,
      maxWaitTimeInMs: heartbeatInterval,
      retry: { retries: 1_000_000, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    const { GROUP_JOIN, HEARTBEAT, REBALANCING, CRASH, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.confirmedAt = opts.clock.now();
      const owns = Object.values(e.payload.memberAssignment).some((ps) => ps.includes(0));
      this.owned = owns;
      this.rebalancing = false;
      this.update({ leader: owns, memberId: e.payload.memberId, joins: this.state.joins + 1 });
    });
    this.consumer.on(HEARTBEAT, () => void (this.confirmedAt = opts.clock.now()));
    // Eager rebalance: nobody owns the partition until the group has joined again. The holder does not act
    // meanwhile (leadsNow), and its claim (protocol metadata) gets the partition back unless its lease lapsed.
    this.consumer.on(REBALANCING, () => void (this.rebalancing = true));
    this.consumer.on(CRASH, (e) => {
      opts.logger.warn({ err: errorMessage(e.payload.error), restart: e.payload.restart }, 'leader election consumer crashed');
      this.update({ leader: false });
    });
    this.consumer.on(STOP, () => {
      this.owned = false;
      this.update({ leader: false });
    });
  }

  get sessionTimeoutMs(): number {
    return this.opts.sessionTimeoutMs;
  }

  get topic(): string {
    return this.opts.topic;
  }

  /** Its errors leave classified (toKafkaError): start-up retries the transient ones. */
  async prepare(): Promise<void> {
    try {
      await this.createControlTopic();
    } catch (err) {
      throw toKafkaError(err);
    }
  }

  private async createControlTopic(): Promise<void> {
    const admin: Admin = this.opts.kafka.admin();
    const timeout = this.opts.adminTimeoutMs ?? 15_000;
    try {
      await deadline(this.opts.clock, admin.connect(), timeout, 'connecting the admin client');
      await deadline(
        this.opts.clock,
        admin
          .createTopics({ topics: [{ topic: this.opts.topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true, timeout })
          .catch((err: unknown) => {
            if (topicExists(err)) return false;
            throw err;
          }),
        timeout,
        `creating the control topic ${this.opts.topic}`,
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  join(): void {
    const start = async () => {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [this.opts.topic], fromBeginning: false });
      // Nothing is read through the group: owning the partition is the point (decisions are read group-less).
      // The batches are still resolved (the default), so the member moves past the records that do arrive on the
      // partition and long-polls for new ones; unresolved, it re-fetched them at once, ~500 times a second.
      await this.consumer.run({ autoCommit: false, eachBatch: async () => undefined });
    };
    start().catch((err: unknown) => {
      if (this.stopped) return;
      this.opts.logger.error({ err: errorMessage(err) }, 'leader election could not join its group; retrying');
      this.opts.clock.setTimeout(() => void (this.stopped || this.join()), 2_000);
    });
  }

  leadership(): Leadership {
    return { ...this.state };
  }

  leadsNow(): boolean {
    return this.state.leader && !this.rebalancing && this.leaseFresh();
  }

  leaseExpired(): boolean {
    return !this.leaseFresh();
  }

  private leaseFresh(): boolean {
    return this.opts.clock.now() - this.confirmedAt < this.opts.sessionTimeoutMs / 2;
  }

  onChange(listener: (l: Leadership) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer.disconnect().catch(() => undefined);
    this.update({ leader: false });
  }

  private update(patch: Partial<Leadership>): void {
    const changed = patch.leader !== undefined && patch.leader !== this.state.leader;
    this.state = { ...this.state, ...patch, ...(changed ? { since: this.opts.clock.now() } : {}) };
    if (changed || patch.joins !== undefined) for (const l of this.listeners) l(this.leadership());
  }
}
