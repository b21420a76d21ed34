// One monitor per physical cluster: probes the primary and replicas, feeds the failover machine, performs the
// effects it asks for (collect LSNs, promote, repoint, fence) through ClusterControl, and on a promotion
// reroutes the cluster's store and rewinds the ingest so the lost window is re-applied (contracts 3 and 4).
// In Patroni mode it never promotes: a PatroniFollower reports the leader Patroni elected.
import type { Actor } from 'xstate';
import type { ClusterControl, NodeProbe, ShardStore, Topology } from '../../adapters/pg/port.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { createFailoverMachine, createMachineActor, probeToEvent, type FailoverMachine, type FailoverMachineConfig, type FailoverSummary, type InspectionBus } from '../../machines/index.ts';
import { failoverEffects } from './effects.ts';
import { PatroniFollower } from './patroni-follower.ts';
import { fetchPatroniView, memberApi, patroniPost, type FetchPatroniView, type PatroniMember } from './patroni.ts';

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
  private rounds = 0;
  private readonly follower: PatroniFollower | null;

  constructor(private readonly deps: ClusterMonitorDeps) {
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

  start(): void {
    const { deps } = this;
    const machine = createFailoverMachine(deps.machine, { clock: deps.clock }).provide({
      actors: failoverEffects({
        // A read-only fence the machine confirms is remembered, so the fenced-node check does not repeat it.
        control: Object.assign(Object.create(deps.control) as ClusterControl, {
          fence: async (node: string, mode: Parameters<ClusterControl['fence']>[1]) => {
            await deps.control.fence(node, mode);
            if (mode === 'read-only') this.refenced.add(node);
          },
        }),
        clock: deps.clock,
        logger: deps.logger,
        promoteTimeoutMs: deps.machine.promoteTimeoutMs ?? 30_000,
        catchUpTimeoutMs: deps.machine.switchoverTimeoutMs ?? 10_000,
        fenceMode: deps.mode === 'patroni' ? 'sessions' : 'read-only',
      }),
    });
    const actor = createMachineActor(machine, { clock: deps.clock, id: `failover:${this.cluster}`, inspect: deps.inspection, input: { cluster: this.cluster, topology: deps.store.topology(), mode: deps.mode } });
    actor.on('topology.promoted', (e) => {
      deps.logger.error({ from: e.from, to: e.to }, 'primary replaced: rerouting writers and re-applying the lost window');
      void this.reroute(e.topology).catch((err: unknown) => deps.logger.error({ err }, 'rerouting after promotion failed'));
    });
    actor.on('failover.completed', (e) => {
      deps.logger.warn({ summary: e.summary }, 'failover completed');
      deps.onCompleted?.(e.summary);
    });
    actor.on('failover.degraded', (e) => deps.logger.error({ oldPrimary: e.oldPrimary }, 'no replica can be promoted: the cluster is down'));
    actor.on('failover.started', (e) => deps.logger.error({ reason: e.reason, oldPrimary: e.oldPrimary }, 'failover started'));
    actor.on('failover.aborted', (e) =>
      e.restored
        ? deps.logger.warn({ primary: e.oldPrimary }, 'switchover abandoned: no replica could take over; the primary accepts writes again')
        : deps.logger.error({ primary: e.oldPrimary }, 'switchover abandoned and the primary could NOT be made writable again: ALTER SYSTEM RESET default_transaction_read_only on it'),
    );
    this.actor = actor;
    this.loops.push(this.run());
    if (this.follower) this.loops.push(this.follower.run(this.stop$.signal));
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
    const actor = this.actor!;
    const epoch = this.topologyEpoch;
    const probes = await this.deps.store.probe();
    this.lastProbe = probes;
    if (this.stop$.signal.aborted) return;
    if (epoch !== this.topologyEpoch) return; // began before the topology changed: the next round asks again
    actor.send(probeToEvent(actor.getSnapshot().context.topology.primary, probes));
    if (++this.rounds % 4 === 0) await this.checkFenced(actor.getSnapshot().context.topology);
  }

  /** An old primary that came back is diverged: report it and make sure it refuses writes (ours, at least). */
  private async checkFenced(topo: Topology): Promise<void> {
    for (const node of topo.fenced) {
      const p = await this.deps.control.probeNode(node);
      if (!p.up) continue;
      if (p.role === 'primary' && !this.diverged.has(node)) this.deps.logger.error({ node }, 'fenced old primary is back and writable: diverged; kept out of routing, fencing it (re-seed it as a replica)');
      this.diverged.add(node);
      if (p.role !== 'primary') continue;
      // Builtin fencing (ALTER SYSTEM read-only) persists across restarts: once confirmed, do not cut the node's
      // sessions again every round (an operator inspecting it would lose theirs). Patroni owns its config, so
      // there only sessions can be cut, and that is repeated.
      if (this.deps.mode !== 'patroni' && this.refenced.has(node)) continue;
      await this.deps.control.fence(node, this.deps.mode === 'patroni' ? 'sessions' : 'read-only').then(
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
    if (deps.mode !== 'patroni') throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, `${this.cluster} is not managed by Patroni`);
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
    await this.deps.store.readmit(node);
    const next: Topology = { primary: t.primary, replicas: [...new Set([...t.replicas, node])], fenced: t.fenced.filter((f) => f !== node) };
    await this.deps.store.setTopology(next);
    this.setMachineTopology(next);
    this.diverged.delete(node);
    this.refenced.delete(node); // fenced again later, it must be fenced (and confirmed) again
    this.deps.logger.warn({ node, topology: next }, 'node adopted as a replica: reads may be routed to it again');
    return next;
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
    };
  }

  async stop(): Promise<void> {
    this.stop$.abort();
    await Promise.all(this.loops);
    this.actor?.stop();
  }
}
