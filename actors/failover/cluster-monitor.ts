// One monitor per physical cluster: probes the primary and replicas, feeds the failover machine, performs the
// effects it asks for (collect LSNs, promote, repoint, fence) through ClusterControl, and on a promotion
// reroutes the cluster's store and rewinds the ingest so the lost window is re-applied (contracts 3 and 4).
// In Patroni mode it never promotes: a PatroniFollower reports the leader Patroni elected.
// With several daemons (builtin mode), only the failover leader feeds probes to the machine and acts; before
// each step (promote, repoint, fence, unfence) it re-checks that it still leads and that the cluster's epoch is
// the one it planned on, and after it publishes the next epoch. Followers probe and apply the latest epoch.
import type { Actor } from 'xstate';
import { notLeader } from '../leader/leader.ts';
import type { ControlLog, Decision, EpochRecord } from '../leader/control-log.ts';
import { nextEpoch, startingEpoch } from '../leader/epoch.ts';
import type { ClusterControl, NodeProbe, ShardStore, Topology } from '../../adapters/pg/port.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import { classify } from '../../lib/classify.ts';
import { ErrorCodes, errorMessage, TagstreamError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { createFailoverMachine, createMachineActor, probeToEvent, type FailoverMachine, type FailoverMachineConfig, type FailoverSummary, type InspectionBus } from '../../machines/index.ts';
import { compareLsn, maxLsn } from '../../machines/failover/lsn.ts';
import { failoverEffects, refuseIfPrimaryAnswers } from './effects.ts';
import { PatroniFollower } from './patroni-follower.ts';
import { fetchPatroniView, memberApi, patroniPost, type FetchPatroniView, type PatroniMember } from './patroni.ts';

/** How long a promotion may wait for the other replicas to stream from the candidate (see cascade()). */
const CASCADE_BUDGET_MS = 3_000;

export interface ClusterMonitorDeps {
  store: ShardStore;
  control: ClusterControl;
  clock: Clock;
  logger: Logger;
  inspection: InspectionBus;
  machine: FailoverMachineConfig;
  mode: 'builtin' | 'patroni';
  patroniUrls: readonly string[];
  /** Patroni mode: how often /cluster is polled (default: probe interval, at most 250 ms). */
  patroniPollMs?: number;
  /** Tests: a Patroni stand-in. */
  fetchPatroniView?: FetchPatroniView;
  /** A promotion happened: reroute writers and re-apply the lost window. */
  onPromoted: (topology: Topology) => Promise<void>;
  onCompleted?: (summary: FailoverSummary) => void;
  /** Several daemons: the failover leader of the deployment (absent: this monitor always acts). */
  leader?: MonitorLeadership;
  /** Called just before pg_promote. */
  onPromote?: (node: string) => void;
  /** The latest decision epoch this monitor applied or published. */
  onEpoch?: (epoch: number) => void;
}

/** What a monitor needs of the deployment's leadership (actors/leader/leader.ts provides it). */
export interface MonitorLeadership {
  readonly daemonId: string;
  readonly control: ControlLog;
  /** Cheap: gates probe rounds. */
  isLeader(): boolean;
  /** The term this daemon leads in (null: it does not); isLeader() false with a term: between two confirmations. */
  currentTerm(): number | null;
  /** Fresh (group lease and control log): throws NOT_LEADER, else returns this daemon's term. */
  check(why: string): Promise<number>;
}

export interface ClusterMonitorStatus {
  cluster: string;
  mode: 'builtin' | 'patroni';
  state: string;
  topology: Topology;
  lastFailover: FailoverSummary | null;
  /** Fenced nodes that came back (as primaries, or replicas not re-seeded from the new primary): out of routing. */
  diverged: string[];
  lastProbe: NodeProbe[];
  /** Patroni mode: the last /cluster answer and when it was asked (clock ms). */
  patroni?: { leader: string | null; members: PatroniMember[]; at: number } | null;
  /** Several daemons: whether this daemon acts for the cluster, and the latest decision epoch it applied. */
  leadership?: { acting: boolean; epoch: number; recorded: number; latest: Pick<EpochRecord, 'epoch' | 'decision' | 'daemonId' | 'term' | 'at'> | null };
}

/** The monitor's actor, as the monitor uses it (./monitor-actor.ts). */
export interface MonitorMailbox {
  /** Asks for a probe round now (the actor schedules the ones after it). */
  round(): void;
}

export interface SwitchoverOutcome {
  cluster: string;
  from: string;
  to: string;
}

export class ClusterMonitor {
  private actor: Actor<FailoverMachine> | null = null;
  private readonly stop$ = new AbortController();
  private loops: Promise<void>[] = [];
  private lastProbe: NodeProbe[] = [];
  /** Bumped by every topology we hand the machine (setMachineTopology). */
  private topologyEpoch = 0;
  private readonly diverged = new Set<string>();
  /** Fenced nodes whose read-only fence this monitor confirmed (builtin mode). */
  private readonly refenced = new Set<string>();
  /** Replicas seen not streaming from the primary: checks since the last repoint, repoints made (checkReplicas). */
  private readonly adrift = new Map<string, { seen: number; attempts: number }>();
  private rounds = 0;
  private readonly follower: PatroniFollower | null;
  /** Builtin mode with a leader: this daemon acts only while it leads. */
  private readonly gated: boolean;
  private acting = false;
  private actingTerm: number | null = null;
  private applying: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;
  /** The latest decision epoch this monitor applied or published; a leader's steps are planned on it. */
  private epoch = 0;
  /** The epoch recorded on the cluster's primary (read at start, raised by each decision this daemon records). */
  private recorded = 0;
  private recordedKnown = false;
  private recording: Promise<void> = Promise.resolve();
  /** The round its actor is running (stop() waits for it). */
  private inRound: Promise<void> = Promise.resolve();
  /** The last step's publication (in the background: the machine goes on once the act is done). */
  private publishing: Promise<void> = Promise.resolve();
  private term = 0;

  constructor(private readonly deps: ClusterMonitorDeps) {
    this.gated = deps.leader !== undefined && deps.mode === 'builtin';
    this.acting = !this.gated;
    this.follower =
      deps.mode === 'patroni'
        ? new PatroniFollower({
            cluster: deps.store.cluster,
            nodes: deps.control.nodes,
            urls: deps.patroniUrls,
            clock: deps.clock,
            logger: deps.logger,
            pollMs: deps.patroniPollMs ?? Math.min(deps.machine.probeIntervalMs, 250),
            timeoutMs: deps.machine.probeTimeoutMs,
            ...(deps.fetchPatroniView ? { fetchView: deps.fetchPatroniView } : {}),
            topology: () => this.machineTopology(),
            atRest: () => this.state() === 'healthy',
            onLeader: (leader) => this.actor?.send({ type: 'LEADER.CHANGED', leader }),
            onReplicas: (replicas, readmit) => this.followReplicas(replicas, readmit),
          })
        : null;
  }

  get cluster(): string {
    return this.deps.store.cluster;
  }

  /**
   * Starts probing. `via`: the monitor's actor (./monitor-actor.ts) — each probe round is a message to it, so a
   * round that crashes is its supervisor's to restart. Without it (tests of the monitor alone) a loop runs the
   * rounds.
   */
  start(via?: MonitorMailbox): void {
    const { deps } = this;
    // A starting daemon routes by the latest decision (the leader's control log was read before features start).
    const rec = this.gated ? deps.leader!.control.latest(this.cluster) : null;
    this.actor = this.createActor(rec && rec.topology.primary !== deps.store.topology().primary ? rec.topology : deps.store.topology());
    if (rec) this.loops.push(this.applyLatest());
    if (this.gated) this.loops.push(this.readRecorded(deps.store.topology().primary));
    // A follower applies a decision as soon as it is read; the probe round re-checks it too.
    if (this.gated) this.unsubscribe = deps.leader!.control.onEpoch((r) => void (r.cluster === this.cluster && !this.acting && this.applyLatest()));
    if (via) via.round();
    else this.loops.push(this.run());
    if (this.follower) this.loops.push(this.follower.run(this.stop$.signal));
  }

  /** Every step of the machine, gated (leader and epoch re-checked first) and recorded (next epoch after). */
  private gatedControl(): ClusterControl {
    const { deps } = this;
    const c = deps.control;
    const step =
      <A extends unknown[]>(decision: Decision, fn: (...a: A) => Promise<void>, after: (...a: A) => { topology: Topology; detail?: Record<string, unknown> }) =>
      async (...a: A): Promise<void> => {
        const t0 = this.deps.clock.now();
        await this.guard(decision).catch((err: unknown) => {
          this.deps.logger.error({ step: decision, err: errorMessage(err) }, 'step not taken: this daemon may not act on it');
          throw err;
        });
        const planned = after(...a);
        const t1 = this.deps.clock.now();
        await fn(...a);
        // Where a step's time went (the log line of its publication): the leadership check, the act itself.
        const ms = { guard: t1 - t0, act: this.deps.clock.now() - t1 };
        // The act is done and the nodes show it: the machine goes on (a promotion reroutes this daemon's writers
        // now, not after a Kafka round trip). The next step's guard waits for this publication first.
        this.publishing = this.publishing.then(() => this.publish(decision, planned.topology, { ...planned.detail, ms }));
      };
    return Object.assign(Object.create(c) as ClusterControl, {
      // The election asks the replicas on the store's long-lived probe sessions: no connection to open, which on a
      // starved machine took longer than the probe timeout and left the cluster degraded for a retry. Fenced nodes
      // (the store does not reach them) are asked through the control plane.
      probeNode: (node: string) => this.probeNode(node),
      // The promotion is about to be checked and taken: its session opens while the candidate and the old primary
      // are asked. (Its leadership check is not started ahead: tried, the fleet's one-sided-partition test then
      // committed offsets past commands it never applied, in most runs; the check stays right before the step.)
      prepare: (node: string, timeoutMs: number) => c.prepare?.(node, timeoutMs),
      promote: step(
        'promote',
        async (node: string, ms: number) => {
          const clock = this.deps.clock;
          const t0 = clock.now();
          let cascadeMs = 0;
          if (this.gated) {
            const old = this.machineTopology().primary;
            const cascaded = await this.cascade(node, Math.min(ms, CASCADE_BUDGET_MS));
            cascadeMs = clock.now() - t0;
            // The cascade can take seconds: the old primary may be back (resumed) by now. Then the cascaded
            // replicas go back to the upstream each streamed from. (Nothing cascaded: the check made just before
            // this step stands.)
            if (cascaded.length > 0) await refuseIfPrimaryAnswers({ probeNode: (n) => this.probeNode(n) }, old, node).catch(async (err: unknown) => {
              await this.pointBack(cascaded);
              throw err;
            });
          }
          const t1 = clock.now();
          this.deps.logger.warn({ node, oldPrimary: this.machineTopology().primary }, 'promoting replica');
          this.deps.onPromote?.(node);
          await c.promote(node, ms);
          this.deps.logger.warn({ node, cascadeMs, checkMs: t1 - t0 - cascadeMs, promoteMs: clock.now() - t1 }, 'promoted');
        },
        (node: string) => {
          const t = this.machineTopology();
          return { topology: { primary: node, replicas: t.replicas.filter((r) => r !== node && r !== t.primary), fenced: [...new Set([...t.fenced.filter((f) => f !== node), t.primary])] }, detail: { node, from: t.primary, reason: this.actor?.getSnapshot().context.current?.reason ?? null } };
        },
      ),
      repoint: step('repoint', (r: string, p: string) => c.repoint(r, p), (replica: string, primary: string) => ({ topology: this.machineTopology(), detail: { replica, primary } })),
      // A read-only fence the machine confirms is remembered, so the fenced-node check does not repeat it.
      fence: step(
        'fence',
        async (node: string, mode?: Parameters<ClusterControl['fence']>[1]) => {
          await c.fence(node, mode);
          if (mode === 'read-only') this.refenced.add(node);
        },
        (node: string) => ({ topology: this.machineTopology(), detail: { node } }),
      ),
      unfence: step('unfence', (node: string) => c.unfence(node), (node: string) => ({ topology: this.machineTopology(), detail: { node } })),
    });
  }

  /**
   * Before a promotion (several daemons): the other replicas stream from the candidate, not from the old
   * primary. A primary only this daemon lost (a one-sided partition) is still writable for the others and still
   * streams to its replicas: a write another daemon makes there, replayed by a replica after the candidate was
   * promoted, would prove replication of a write the new timeline lacks, and its offset would commit. Cascaded,
   * a replica holds only WAL the candidate has flushed, which its promotion keeps; the candidate is first let
   * catch up to what they had received. Bounded: a replica that cannot be repointed, or does not stream from the
   * candidate, or a candidate that does not catch up within the budget, and this candidate is not promoted (the
   * cascaded replicas are pointed back; the machine tries the next candidate, which may hold that WAL).
   */
  private async cascade(candidate: string, budgetMs: number): Promise<Array<{ node: string; from: string }>> {
    const { control: c, clock, logger } = this.deps;
    const t = this.machineTopology();
    const deadline = clock.now() + budgetMs;
    const cascaded: Array<{ node: string; from: string }> = [];
    // What each cascaded replica had received and replayed before its repoint: the candidate must hold it all.
    let target: string | undefined;
    const refuse = async (why: string, detail: Record<string, unknown>): Promise<never> => {
      logger.error({ candidate, ...detail }, `${why}: not promoting ${candidate}`);
      await this.pointBack(cascaded);
      throw new Error(`${why}: ${candidate} was not promoted`);
    };
    // Every other node but the old primary and fenced ones: a replica this daemon does not route reads to (it
    // cannot see the old primary's pg_stat_replication in a partition) may stream from it all the same.
    const others = this.deps.control.nodes.filter((x) => x !== candidate && x !== t.primary && !t.fenced.includes(x));
    const probed = await Promise.all(others.map((r) => this.probeNode(r))); // at once: each is a round trip
    for (const [i, r] of others.entries()) {
      const p = probed[i]!;
      if (!p.up || p.role !== 'replica') continue;
      // Only a replica that streams from someone else right now can receive WAL the candidate lacks; one that
      // streams from nobody (the usual case: the old primary is dead) is repointed after the promotion as before.
      // An upstream this daemon cannot name (the old primary as the replica reaches it, at an address this daemon
      // does not use — a partition seen through another path) is someone else all the same: cascaded.
      if (p.receiver?.status !== 'streaming' || p.receiver.upstream === candidate) continue;
      try {
        await c.repoint(r, candidate);
      } catch (err) {
        // It goes on streaming from the old primary, and would prove writes there after the promotion.
        await refuse('a replica that streams from the old primary could not be pointed at the candidate', { replica: r, err: errorMessage(err) });
      }
      cascaded.push({ node: r, from: p.receiver.upstream ?? t.primary });
      target = maxLsn(target, p.receiveLsn, p.replayLsn);
    }
    if (cascaded.length === 0) return cascaded;
    // Each receives from the candidate now (or from nobody): nothing more comes from the old primary.
    for (;;) {
      const probes = await Promise.all(cascaded.map((r) => this.probeNode(r.node)));
      const fromOld = probes.filter((p) => p.up && p.receiver?.status === 'streaming' && p.receiver.upstream !== candidate);
      // WAL a replica received between its probe above and its receiver's restart is replayed from its own disk
      // before it streams again: its replay position says it.
      target = probes.reduce<string | undefined>((m, p) => (p.up ? maxLsn(m, p.receiveLsn, p.replayLsn) : m), target);
      if (fromOld.length === 0) break;
      if (clock.now() >= deadline) await refuse('replicas still stream from the old primary', { still: fromOld.map((p) => p.name) });
      await sleep(clock, 20, this.stop$.signal);
    }
    // The candidate has everything they received (at once when the old primary is dead: it was elected for it).
    for (;;) {
      const p = await this.probeNode(candidate);
      if (compareLsn(maxLsn(p.receiveLsn, p.replayLsn), target) >= 0) break;
      if (clock.now() >= deadline) await refuse('the candidate did not catch up with the other replicas', { at: p.receiveLsn ?? null, replicasAt: target ?? null });
      await sleep(clock, 20, this.stop$.signal);
    }
    logger.warn({ candidate, cascaded: cascaded.map((x) => x.node), upTo: target ?? null }, 'replicas stream from the candidate before its promotion');
    return cascaded;
  }

  /** Cascaded replicas go back to the upstream each streamed from (a failover abandoned, or not this candidate). */
  private async pointBack(cascaded: ReadonlyArray<{ node: string; from: string }>): Promise<void> {
    for (const { node: r, from } of cascaded) {
      await this.deps.control.repoint(r, from).catch((e: unknown) => this.deps.logger.warn({ replica: r, upstream: from, err: errorMessage(e) }, 'could not point a replica back at its upstream'));
    }
  }

  /**
   * A node as the failover steps see it: on the store's long-lived probe session (no connection opened per probe,
   * which on a loaded machine took longer than the probe timeout), or through the control plane for a node the
   * store keeps fenced (it never connects to those).
   */
  private probeNode(node: string): Promise<NodeProbe> {
    return this.deps.store.topology().fenced.includes(node) ? this.deps.control.probeNode(node) : this.deps.store.probeNode(node);
  }

  /** Before a step: this daemon still leads (fresh check) and nobody decided anything since its plan. */
  private async guard(step: string): Promise<void> {
    if (!this.gated) return;
    await this.publishing; // the previous step's decision is in the log before the next one is planned on it
    const lead = this.deps.leader!;
    this.term = await lead.check(`${this.cluster}: ${step}`);
    const latest = lead.control.latest(this.cluster)?.epoch ?? 0;
    if (latest !== this.epoch) {
      this.deps.logger.error({ step, planned: this.epoch, latest }, 'a newer topology decision exists: this step is not taken');
      this.actingTerm = null; // the next round starts again from the latest decision (leadershipChanged)
      throw notLeader(lead.control.leader(), `${this.cluster}: ${step} was planned on epoch ${this.epoch}, the latest is ${latest}`);
    }
  }

  /** After a step: the next epoch, acks=all. A publish that fails is logged; the nodes still say what happened. */
  private async publish(decision: Decision, topology: Topology, detail?: Record<string, unknown>): Promise<void> {
    if (!this.gated) return;
    const lead = this.deps.leader!;
    // Published after the act (in the background): a leader paused in between (SIGSTOP, a long GC) wakes with a
    // lapsed lease and publishes nothing it decided before; the leader after it publishes from what the nodes say.
    if (!lead.isLeader() || lead.currentTerm() !== this.term) {
      this.deps.logger.error({ decision, topology, term: this.term }, 'decision not published: this daemon no longer leads (its successor decides from what the nodes say)');
      return;
    }
    // Not read at start (the primary did not answer): the node this decision names has it (replicated).
    if (!this.recordedKnown) await this.readRecorded(topology.primary);
    const epoch = nextEpoch(this.epoch, lead.control.latest(this.cluster)?.epoch, this.recorded);
    const rec: EpochRecord = { cluster: this.cluster, epoch, decision, topology, term: this.term, daemonId: lead.daemonId, at: this.deps.clock.now(), ...(detail ? { detail } : {}) };
    const started = this.deps.clock.now();
    try {
      await lead.control.publishEpoch(rec);
      const cur = lead.control.latest(this.cluster);
      if (cur?.epoch === epoch && cur.daemonId === lead.daemonId) {
        this.epoch = epoch;
        this.deps.onEpoch?.(epoch);
        this.deps.logger.warn({ epoch, decision, topology, detail, publishMs: this.deps.clock.now() - started }, 'topology decision published');
        // In the background: the failover goes on (the row is monotonic, so the order of writes does not matter).
        this.recording = this.recording.then(() => this.record(rec));
      } else this.deps.logger.error({ epoch, decision, latest: cur }, 'another daemon published this epoch first');
    } catch (err) {
      this.deps.logger.error({ err, epoch, decision }, 'could not publish the topology decision (followers learn it from the nodes)');
    }
  }

  /** The decision's epoch on the primary it names (issue 14: recorded on the promoted primary itself). */
  private async record(rec: EpochRecord): Promise<void> {
    const node = rec.topology.primary;
    try {
      await this.deps.control.recordEpoch(node, { cluster: rec.cluster, epoch: rec.epoch, daemonId: rec.daemonId, term: rec.term, decision: rec.decision, at: rec.at });
      this.recorded = Math.max(this.recorded, rec.epoch);
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err), node, epoch: rec.epoch }, 'could not record the epoch on the primary (the control log has it)');
    }
  }

  /** Start-up: the epoch recorded on the primary, so a decision of ours is never numbered below it. */
  private async readRecorded(node: string): Promise<void> {
    try {
      const r = await this.deps.control.readEpoch(node);
      this.recorded = Math.max(this.recorded, r?.epoch ?? 0);
      this.recordedKnown = true;
      const starting = startingEpoch(this.deps.leader!.control.latest(this.cluster)?.epoch, r?.epoch);
      this.deps.onEpoch?.(Math.max(this.epoch, starting));
      if (r) this.deps.logger.info({ node, recorded: r.epoch, starting }, 'epoch recorded on the primary read');
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err), node }, 'could not read the epoch recorded on the primary');
    }
  }

  /** Builds the failover actor on `topology` (also after leadership moved: a fresh machine, no stale plan). */
  private createActor(topology: Topology): Actor<FailoverMachine> {
    const { deps } = this;
    const machine = createFailoverMachine(deps.machine, { clock: deps.clock }).provide({
      actors: failoverEffects({
        control: this.gatedControl(),
        clock: deps.clock,
        logger: deps.logger,
        promoteTimeoutMs: deps.machine.promoteTimeoutMs ?? 30_000,
        catchUpTimeoutMs: deps.machine.switchoverTimeoutMs ?? 10_000,
        fenceMode: deps.mode === 'patroni' ? 'sessions' : 'read-only',
      }),
    });
    const actor = createMachineActor(machine, { clock: deps.clock, id: `failover:${this.cluster}`, inspect: deps.inspection, input: { cluster: this.cluster, topology, mode: deps.mode } });
    actor.on('topology.promoted', (e) => {
      if (actor !== this.actor) return;
      deps.logger.error({ from: e.from, to: e.to }, 'primary replaced: rerouting writers and re-applying the lost window');
      void this.reroute(e.topology).catch((err: unknown) => deps.logger.error({ err }, 'rerouting after promotion failed'));
    });
    actor.on('failover.completed', (e) => {
      deps.logger.warn({ summary: e.summary }, 'failover completed');
      deps.onCompleted?.(e.summary);
    });
    actor.on('failover.unobserved', () => deps.logger.warn('no probe result for as long as a failover waits: this daemon stalled; suspicion dropped, the next probes decide'));
    actor.on('failover.abandoned', (e) => deps.logger.warn({ primary: e.primary, candidate: e.candidate }, 'failover abandoned before the promotion: the old primary answers again and accepts writes'));
    actor.on('failover.degraded', (e) => deps.logger.error({ oldPrimary: e.oldPrimary }, 'no replica can be promoted: the cluster is down'));
    actor.on('failover.started', (e) => deps.logger.error({ reason: e.reason, oldPrimary: e.oldPrimary }, 'failover started'));
    actor.on('failover.aborted', (e) =>
      e.restored
        ? deps.logger.warn({ primary: e.oldPrimary }, 'switchover abandoned: no replica could take over; the primary accepts writes again')
        : deps.logger.error({ primary: e.oldPrimary }, 'switchover abandoned and the primary could NOT be made writable again: ALTER SYSTEM RESET default_transaction_read_only on it'),
    );
    return actor;
  }

  /** Leadership moved: a leader starts from the latest decision; a follower drops any plan in progress. */
  private async leadershipChanged(term: number | null): Promise<void> {
    const { deps } = this;
    const acting = term !== null;
    this.actingTerm = term;
    this.acting = acting;
    await deps.leader!.control.refresh().catch(() => undefined);
    await this.applyLatest();
    const state = this.state();
    if (acting || (state !== 'healthy' && state !== 'degraded')) {
      this.actor?.stop();
      this.actor = this.createActor(deps.store.topology());
    }
    deps.logger.warn({ acting, epoch: this.epoch, topology: deps.store.topology() }, acting ? 'leading: this daemon decides failovers of the cluster' : 'following: the failover leader decides for the cluster');
  }

  /** Follower: routes by the latest decision of the leader (and stays ready to lead from it). */
  private async follow(probes: NodeProbe[]): Promise<void> {
    await this.applyLatest();
    await this.serially(() => this.deriveAsFollower(probes));
  }

  /**
   * Follower: what the nodes say wins over a decision not read yet (a promoted node writable on a newer timeline
   * is the primary; fenced nodes of the latest decision stay fenced). Writes switch within one probe round.
   */
  private async deriveAsFollower(probes: NodeProbe[]): Promise<void> {
    const { store } = this.deps;
    const rec = this.deps.leader!.control.latest(this.cluster);
    const view = await store.deriveRouting({ probes, ...(rec ? { fenced: rec.topology.fenced } : {}) });
    const r = await store.applyDerived(view);
    if (r.primaryChanged) {
      this.deps.logger.warn({ topology: r.topology, epoch: this.epoch }, 'the nodes name a new primary: following it (derived routing)');
      await this.deps.onPromoted(r.topology);
    }
    if (r.changed) this.setMachineTopology(r.topology);
  }

  private serially(fn: () => Promise<void>): Promise<void> {
    const next = this.applying.then(fn);
    this.applying = next.catch((err: unknown) => this.deps.logger.error({ err }, 'following the topology failed'));
    return this.applying;
  }

  /** Applies the latest decision once (calls from the round and from the control log's tail are serialized). */
  private applyLatest(): Promise<void> {
    return this.serially(async () => {
      const rec = this.deps.leader!.control.latest(this.cluster);
      if (rec && rec.epoch > this.epoch) await this.applyEpoch(rec);
    });
  }

  private async applyEpoch(rec: EpochRecord): Promise<void> {
    const { deps } = this;
    const cur = deps.store.topology();
    const next = rec.topology;
    for (const n of [next.primary, ...next.replicas]) if (cur.fenced.includes(n)) await deps.store.readmit(n);
    if (next.primary !== cur.primary) await deps.onPromoted(next);
    else await deps.store.setTopology(next);
    for (const n of next.fenced) if (!cur.fenced.includes(n) && n !== cur.primary) this.diverged.delete(n);
    this.setMachineTopology(next);
    this.epoch = rec.epoch;
    deps.onEpoch?.(rec.epoch);
    deps.logger.warn({ epoch: rec.epoch, decision: rec.decision, by: rec.daemonId, topology: next }, 'applied the leader\'s topology decision');
  }

  /** Patroni mode: proof, asked after a replica replayed a write, that our primary still leads (else true). */
  confirmLeader(since: number): Promise<boolean> {
    return this.follower ? this.follower.confirmLeader(this.deps.store.topology().primary, since) : Promise.resolve(true);
  }

  private state(): string {
    return String(this.actor?.getSnapshot().value ?? 'stopped');
  }

  private machineTopology(): Topology {
    return this.actor?.getSnapshot().context.topology ?? this.deps.store.topology();
  }

  private async reroute(topology: Topology): Promise<void> {
    // Patroni may elect a node we once fenced: it has rewound it, so it is a legitimate primary now.
    if (this.deps.mode === 'patroni' && this.deps.store.topology().fenced.includes(topology.primary)) await this.deps.store.readmit(topology.primary);
    await this.deps.onPromoted(topology);
  }

  private async followReplicas(replicas: string[], readmit: string[]): Promise<void> {
    const t = this.machineTopology();
    for (const n of readmit) {
      await this.deps.store.readmit(n);
      this.diverged.delete(n);
      this.refenced.delete(n); // fenced again later, it must be fenced (and confirmed) again
    }
    const next: Topology = { primary: t.primary, replicas, fenced: t.fenced.filter((f) => !readmit.includes(f)) };
    await this.deps.store.setTopology(next);
    this.setMachineTopology(next);
    this.deps.logger.warn({ replicas, readmit }, 'replicas follow what Patroni runs');
  }

  /** Milliseconds between the end of a probe round and the start of the next. */
  get probeIntervalMs(): number {
    return this.deps.machine.probeIntervalMs;
  }

  get stopped(): boolean {
    return this.stop$.signal.aborted;
  }

  /**
   * One probe round (a message to the monitor's actor). A failure the backends explain (a timeout, a refused
   * connection: retryable) is logged and the next round tries again; anything else is a defect and is thrown —
   * the actor crashes and its supervisor restarts it (restarted()).
   */
  async roundOnce(): Promise<void> {
    const round = this.round();
    this.inRound = round.catch(() => undefined);
    try {
      await round;
    } catch (err) {
      if (this.stopped) return; // stopping: a round cut short is no crash
      const c = classify(err).class;
      if (c === 'retry' || c === 'reroute') this.deps.logger.warn({ err }, 'monitor round failed');
      else throw err;
    }
  }

  /**
   * After its actor crashed and was restarted: nothing it was planning is trusted. A fresh machine on the
   * routing the store has; the next round starts from the latest decision (as after a change of leadership), and
   * a failover under way is finished from what the nodes say (a promoted candidate shows it on its timeline).
   */
  restarted(): void {
    this.actingTerm = this.gated ? null : this.actingTerm;
    if (this.gated) this.acting = false;
    this.actor?.stop();
    this.actor = this.createActor(this.deps.store.topology());
    this.deps.logger.warn({ topology: this.deps.store.topology() }, 'monitor restarted: a fresh failover machine on the current routing');
  }

  private async run(): Promise<void> {
    const { deps } = this;
    while (!this.stop$.signal.aborted) {
      try {
        await this.round();
      } catch (err) {
        deps.logger.warn({ err }, 'monitor round failed');
      }
      await sleep(deps.clock, deps.machine.probeIntervalMs, this.stop$.signal).catch(() => undefined);
    }
  }

  /**
   * Tells the machine the topology we set (adopt, Patroni's replicas). Probe rounds that began before it answer
   * about the old one (a node fenced then is reported down, not probed): they are dropped, see round().
   */
  private setMachineTopology(next: Topology): void {
    this.topologyEpoch++;
    this.actor?.send({ type: 'TOPOLOGY.SET', topology: next });
  }

  private async round(): Promise<void> {
    if (this.gated) {
      // Acting for one term at a time: a new term starts from the latest decision; a lost one drops any plan.
      const term = this.deps.leader!.currentTerm();
      if (term !== this.actingTerm) await this.leadershipChanged(term);
    }
    const actor = this.actor!;
    const epoch = this.topologyEpoch;
    // A follower reads the control log up to its end while it probes (two round trips at once, not one after the
    // other: the round that sees a promotion switches writes sooner). A log it cannot read does not stop it from
    // following what the nodes say.
    const following = this.gated && !this.acting;
    const refreshed = following ? this.deps.leader!.control.refresh().then(() => true, (err: unknown) => (this.deps.logger.debug({ err: errorMessage(err) }, 'control log not read to its end: following the nodes'), false)) : null;
    const probes = await this.deps.store.probe();
    this.lastProbe = probes;
    if (this.stop$.signal.aborted) return;
    if (following) {
      // Bounded: a control log that does not answer (Kafka down) holds the round no longer than a probe.
      await Promise.race([refreshed, sleep(this.deps.clock, this.deps.machine.probeTimeoutMs, this.stop$.signal).catch(() => undefined)]);
      await this.follow(probes);
      // Every daemon lists a returned old primary as diverged (contract 11); only the leader fences it.
      if (++this.rounds % 4 === 0) await this.checkFenced(this.deps.store.topology(), false);
      return;
    }
    if (this.gated && !this.deps.leader!.isLeader()) return; // a rebalance or a late heartbeat: act on nothing now
    if (epoch !== this.topologyEpoch) return; // began before the topology changed: the next round asks again
    actor.send(probeToEvent(actor.getSnapshot().context.topology.primary, probes));
    if (++this.rounds % 4 === 0) {
      await this.checkFenced(actor.getSnapshot().context.topology);
      await this.checkReplicas(probes, actor.getSnapshot().context.topology);
    }
  }

  /**
   * A healthy cluster's replicas stream from its primary: one that streams from nobody, or from another node we
   * know, in two checks in a row (a failover's repoint that failed, a replica restarted with an old
   * primary_conninfo) is repointed, and again after 2, 4, … 32 more checks while it still does not (a diverged one,
   * which a repoint cannot help, is not asked every round). Without it a cluster can be left with no standby
   * streaming from the primary: no write's replication is ever proven and none of its offsets commits (contract
   * 3). The leader acts (built-in mode; Patroni repoints its own replicas).
   */
  private async checkReplicas(probes: NodeProbe[], topo: Topology): Promise<void> {
    if (this.deps.mode !== 'builtin' || this.state() !== 'healthy') return;
    for (const r of topo.replicas) {
      const p = probes.find((x) => x.name === r);
      // Streaming from an address no configured node has (a path this daemon does not use) is left alone.
      if (!p?.up || p.role !== 'replica' || (p.receiver?.status === 'streaming' && (p.receiver.upstream === topo.primary || p.receiver.upstream === null))) {
        this.adrift.delete(r);
        continue;
      }
      const a = this.adrift.get(r) ?? { seen: 0, attempts: 0 };
      this.adrift.set(r, a);
      if (++a.seen < Math.min(32, 2 ** a.attempts) + 1) continue;
      a.seen = 0;
      a.attempts++;
      this.deps.logger.warn({ replica: r, primary: topo.primary, receiver: p.receiver ?? null, attempt: a.attempts }, 'replica does not stream from the primary: repointing it');
      await this.guard('repoint')
        .then(() => this.deps.control.repoint(r, topo.primary))
        .catch((err: unknown) => this.deps.logger.warn({ replica: r, primary: topo.primary, err: errorMessage(err) }, 'could not repoint the replica; the next checks try again'));
    }
  }

  /**
   * An old primary that came back is diverged: report it and (`act`: the leader) make sure it refuses writes
   * (ours, at least). A follower only reports it.
   */
  private async checkFenced(topo: Topology, act = true): Promise<void> {
    for (const node of topo.fenced) {
      const p = await this.deps.control.probeNode(node);
      if (!p.up) continue;
      if (act && p.role === 'primary' && !this.diverged.has(node)) this.deps.logger.error({ node }, 'fenced old primary is back and writable: diverged; kept out of routing, fencing it (re-seed it as a replica)');
      this.diverged.add(node);
      if (!act || p.role !== 'primary') continue;
      // Builtin fencing (ALTER SYSTEM read-only) persists across restarts: once confirmed, do not cut the node's
      // sessions again every round (an operator inspecting it would lose theirs). Patroni owns its config, so
      // there only sessions can be cut, and that is repeated.
      if (this.deps.mode !== 'patroni' && this.refenced.has(node)) continue;
      await this.guard('fence')
        .then(() => this.deps.control.fence(node, this.deps.mode === 'patroni' ? 'sessions' : 'read-only'))
        .then(
        () => void this.refenced.add(node),
        (err: unknown) => this.deps.logger.warn({ node, err }, 'could not fence the diverged node'),
      );
    }
  }

  /**
   * Planned switchover. Builtin: the machine fences the primary, waits for a replica to catch up and promotes
   * it (`target`, or the most caught-up one). Patroni: asked of the leader's Patroni; we follow its new leader.
   */
  async switchover(opts: { target?: string; timeoutMs?: number } = {}): Promise<SwitchoverOutcome> {
    const actor = this.actor;
    if (!actor) throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster}: the monitor is not running`);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    if (this.deps.mode === 'patroni') return this.patroniSwitchover(opts.target, timeoutMs);
    await this.ensureActing('switchover');
    const snap = actor.getSnapshot();
    if (snap.value !== 'healthy') throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster} is ${String(snap.value)}: a switchover needs a healthy cluster`);
    const topo = snap.context.topology;
    if (opts.target !== undefined && !topo.replicas.includes(opts.target)) throw new TagstreamError(ErrorCodes.BAD_REQUEST, `${opts.target} is not a replica of ${this.cluster} (replicas: ${topo.replicas.join(', ') || 'none'})`);
    const from = topo.primary;
    const outcome = new Promise<{ to: string } | { aborted: true; restored: boolean }>((resolve, reject) => {
      const subs = [
        actor.on('failover.completed', (e) => done({ to: e.summary.to })),
        actor.on('failover.aborted', (e) => done({ aborted: true, restored: e.restored })),
      ];
      const timer = this.deps.clock.setTimeout(() => {
        for (const s of subs) s.unsubscribe();
        reject(new Error(`${this.cluster}: switchover did not finish within ${timeoutMs} ms (state ${this.state()})`));
      }, timeoutMs);
      const done = (v: { to: string } | { aborted: true; restored: boolean }) => {
        for (const s of subs) s.unsubscribe();
        this.deps.clock.clearTimeout(timer);
        resolve(v);
      };
    });
    actor.send({ type: 'SWITCHOVER', ...(opts.target !== undefined ? { target: opts.target } : {}) });
    if (actor.getSnapshot().value === 'healthy') {
      throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster}: no replica can take over (${topo.replicas.join(', ') || 'none'}: down or fenced)`);
    }
    const r = await outcome;
    if ('aborted' in r) {
      throw new Error(r.restored ? `${this.cluster}: switchover abandoned (no replica caught up or could be promoted); ${from} is the primary again` : `${this.cluster}: switchover abandoned and ${from} could not be made writable again: run ALTER SYSTEM RESET default_transaction_read_only on it`);
    }
    return { cluster: this.cluster, from, to: r.to };
  }

  private async patroniSwitchover(target: string | undefined, timeoutMs: number): Promise<SwitchoverOutcome> {
    const { deps } = this;
    const view = await (deps.fetchPatroniView ?? fetchPatroniView)(deps.patroniUrls, deps.machine.probeTimeoutMs);
    if (!view?.leader) throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster}: Patroni reports no leader right now`);
    if (target !== undefined && !view.members.some((m) => m.name === target && m.name !== view.leader)) throw new TagstreamError(ErrorCodes.BAD_REQUEST, `${target} is not a Patroni replica of ${this.cluster}`);
    const api = memberApi(view, view.leader, deps.patroniUrls, deps.control.nodes);
    if (!api) throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster}: no REST API known for the leader ${view.leader}`);
    const from = view.leader;
    await patroniPost(api, '/switchover', { leader: from, ...(target !== undefined ? { candidate: target } : {}) }, timeoutMs);
    const deadline = deps.clock.now() + timeoutMs;
    while (this.machineTopology().primary === from || this.state() !== 'healthy') {
      if (deps.clock.now() > deadline) throw new Error(`${this.cluster}: Patroni switched over, but we did not follow within ${timeoutMs} ms`);
      await sleep(deps.clock, 50, this.stop$.signal);
    }
    return { cluster: this.cluster, from, to: this.machineTopology().primary };
  }

  /** Patroni mode: ask the member's Patroni to re-create it from the leader (POST /reinitialize). */
  async reinitialize(node: string): Promise<string> {
    const { deps } = this;
    if (deps.mode !== 'patroni') throw new TagstreamError(ErrorCodes.NOT_SUPPORTED, `${this.cluster} is not managed by Patroni`);
    const view = await (deps.fetchPatroniView ?? fetchPatroniView)(deps.patroniUrls, deps.machine.probeTimeoutMs);
    if (!view) throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster}: no Patroni API answers`);
    if (view.leader === node) throw new TagstreamError(ErrorCodes.BAD_REQUEST, `${node} is Patroni's leader: nothing to re-seed`);
    const api = memberApi(view, node, deps.patroniUrls, deps.control.nodes);
    if (!api || !view.members.some((m) => m.name === node)) throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${node} is not a running Patroni member: start its Patroni first (it rejoins, with pg_rewind, on its own)`);
    return patroniPost(api, '/reinitialize', { force: true }, 30_000);
  }

  /** An operator re-seeded a fenced node as a replica of the current primary: route reads to it again. */
  async adopt(node: string): Promise<Topology> {
    const actor = this.actor;
    if (!actor) throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster}: the monitor is not running`);
    await this.ensureActing('adopt');
    const state = this.state();
    if (state !== 'healthy' && state !== 'degraded') throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster} is ${state}: adopt once the failover has finished`);
    const t = actor.getSnapshot().context.topology;
    if (!this.deps.control.nodes.includes(node)) throw new TagstreamError(ErrorCodes.NOT_FOUND, `${this.cluster} has no node ${node} (nodes: ${this.deps.control.nodes.join(', ')})`);
    if (node === t.primary) throw new TagstreamError(ErrorCodes.BAD_REQUEST, `${node} is the primary of ${this.cluster}`);
    const p = await this.deps.control.probeNode(node);
    if (!p.up || p.role !== 'replica') throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster}: ${node} is not a running replica (${p.error ?? p.role}); re-seed it first`);
    if (!(await this.deps.control.streamingFrom(t.primary, node))) {
      throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster}: ${node} is a replica but does not stream from the primary ${t.primary} (no pg_stat_replication row with application_name '${node}' in state streaming); re-seed it from ${t.primary}`);
    }
    await this.guard('adopt');
    await this.deps.store.readmit(node);
    const next: Topology = { primary: t.primary, replicas: [...new Set([...t.replicas, node])], fenced: t.fenced.filter((f) => f !== node) };
    await this.deps.store.setTopology(next);
    this.setMachineTopology(next);
    await (this.publishing = this.publishing.then(() => this.publish('adopt', next, { node })));
    this.diverged.delete(node);
    this.refenced.delete(node); // fenced again later, it must be fenced (and confirmed) again
    this.deps.logger.warn({ node, topology: next }, 'node adopted as a replica: reads may be routed to it again');
    return next;
  }

  /** An operator's decision is taken by the leader: a follower refuses it, naming the leader (HTTP 409). */
  async ensureActing(action: string): Promise<void> {
    if (!this.gated) return;
    const lead = this.deps.leader!;
    if (!lead.isLeader()) throw notLeader(lead.control.leader(), `${this.cluster}: ${action}`);
    if (this.actingTerm !== lead.currentTerm()) await this.leadershipChanged(lead.currentTerm());
    await this.guard(action);
  }

  status(): ClusterMonitorStatus {
    const snap = this.actor?.getSnapshot();
    const last = this.follower?.lastView;
    return {
      cluster: this.cluster,
      mode: this.deps.mode,
      state: snap ? String(snap.value) : 'stopped',
      topology: snap?.context.topology ?? this.deps.store.topology(),
      lastFailover: snap?.context.lastFailover ?? null,
      diverged: [...this.diverged],
      lastProbe: this.lastProbe,
      ...(this.follower ? { patroni: last ? { leader: last.view.leader, members: last.view.members, at: last.at } : null } : {}),
      ...(this.gated ? { leadership: { acting: this.acting, epoch: this.epoch, recorded: this.recorded, latest: pick(this.deps.leader!.control.latest(this.cluster)) } } : {}),
    };
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.stop$.abort();
    await Promise.all([...this.loops, this.inRound, this.publishing, this.recording]);
    this.actor?.stop();
  }
}

function pick(r: EpochRecord | null): Pick<EpochRecord, 'epoch' | 'decision' | 'daemonId' | 'term' | 'at'> | null {
  return r ? { epoch: r.epoch, decision: r.decision, daemonId: r.daemonId, term: r.term, at: r.at } : null;
}
