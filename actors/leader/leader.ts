// The failover leader of this deployment, as this daemon sees it. The group (LeaderElection) says who owns the
// control partition; a member that gains it claims the next leadership term in the control log, and acts only
// once its claim is the log's latest. `check()` is the fresh test run before every topology step (VTOrc re-reads
// after taking its lock): the group still confirms us within the lease, and the log's latest term is ours.
import type { LeaderElection, Leadership } from '../../adapters/kafka/leader-election-port.ts';
import { sleep, type Clock } from '../../lib/clock.ts';
import { classify } from '../../lib/classify.ts';
import { ErrorCodes, errorMessage, TagstreamError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ControlLog, LeaderRecord } from './control-log.ts';

export interface LeaderStatus {
  /** This daemon leads now (owns the partition, lease fresh, its term is the latest). */
  leader: boolean;
  daemonId: string;
  memberId: string | null;
  /** This daemon's term while it leads; else null. */
  term: number | null;
  /** The latest leader record of the control log (possibly of a leader that has just died). */
  current: LeaderRecord | null;
  sessionTimeoutMs: number;
  since: number;
}

export interface LeaderDeps {
  election: LeaderElection;
  control: ControlLog;
  clock: Clock;
  logger: Logger;
  /** This daemon's advertised HTTP URL (followers name it in their refusals). */
  url: () => string | null;
  /** How often the control log is re-read for /status and followers (default 1 s). */
  refreshMs?: number;
}

export function notLeader(current: LeaderRecord | null, why: string): TagstreamError {
  const who = current ? `the leader is ${current.daemonId}${current.url ? ` at ${current.url}` : ''} (term ${current.term})` : 'no leader is known yet';
  return new TagstreamError(ErrorCodes.NOT_LEADER, `this daemon is not the failover leader (${why}): ${who}`, { retriable: true, details: { leader: current } });
}

export class Leader {
  private term: number | null = null;
  private claiming: Promise<void> | null = null;
  private readonly listeners = new Set<(s: LeaderStatus) => void>();
  private readonly stop$ = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(private readonly deps: LeaderDeps) {
    deps.election.onChange((l) => this.changed(l));
  }

  get daemonId(): string {
    return this.deps.election.leadership().daemonId;
  }

  get control(): ControlLog {
    return this.deps.control;
  }

  /** Creates the control topic and reads the latest decisions: a starting daemon routes by them. */
  async start(): Promise<void> {
    await this.deps.election.prepare();
    await this.deps.control.start();
    await this.deps.control.refresh();
    this.loop = this.refreshLoop();
  }

  /**
   * Joins the election in the background (once this daemon can be reached at its advertised URL). Resolves once
   * a leadership granted at once (the embedded stand-in) is claimed; a group's answer is not waited for.
   */
  async join(): Promise<void> {
    this.deps.election.join();
    await this.claiming;
  }

  /** This daemon's leadership term, null unless it claimed one (it may be between two confirmations: isLeader()). */
  currentTerm(): number | null {
    return this.term;
  }

  /** Cheap: for gating (a scheduled pass, a probe round). Steps that change topology use check(). */
  isLeader(): boolean {
    return this.term !== null && this.deps.election.leadsNow();
  }

  /** Throws NOT_LEADER unless this daemon leads now, checked against the group's lease and the control log. */
  async check(why = 'leadership check'): Promise<number> {
    const term = this.term;
    if (term === null) throw notLeader(this.deps.control.leader(), why);
    if (!this.deps.election.leadsNow()) throw notLeader(this.deps.control.leader(), `${why}: the group has not confirmed this member within its lease`);
    await this.deps.control.refresh();
    const cur = this.deps.control.leader();
    if (!cur || cur.term !== term || cur.daemonId !== this.deps.election.leadership().daemonId) {
      this.lose('a newer leader term is in the control log');
      throw notLeader(cur, why);
    }
    if (!this.deps.election.leadsNow()) throw notLeader(cur, `${why}: lease expired`);
    return term;
  }

  status(): LeaderStatus {
    const l = this.deps.election.leadership();
    return { leader: this.isLeader(), daemonId: l.daemonId, memberId: l.memberId, term: this.term, current: this.deps.control.leader(), sessionTimeoutMs: this.deps.election.sessionTimeoutMs, since: l.since };
  }

  onChange(listener: (s: LeaderStatus) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stop$.abort();
    await this.loop;
    await this.deps.election.stop();
    await this.deps.control.stop().catch(() => undefined);
  }

  private changed(l: Leadership): void {
    if (!l.leader) return this.lose('the group moved the control partition');
    if (this.term !== null || this.claiming) return;
    this.claiming = this.claim()
      // A control topic created a moment ago is not known to every broker yet (retriable): expected at a start.
      .catch((err: unknown) => this.deps.logger[classify(err).class === 'retry' ? 'warn' : 'error']({ err: errorMessage(err) }, 'could not claim a leadership term; next rebalance or refresh tries again'))
      .finally(() => (this.claiming = null));
  }

  /** Publishes term = latest + 1; leads once the log says that term is ours. */
  private async claim(): Promise<void> {
    const { control, election, clock, logger } = this.deps;
    await control.refresh();
    const term = (control.leader()?.term ?? 0) + 1;
    const daemonId = election.leadership().daemonId;
    if (!election.leadsNow()) return;
    await control.publishLeader({ term, daemonId, url: this.deps.url(), at: clock.now() });
    const cur = control.leader();
    if (cur?.term !== term || cur.daemonId !== daemonId || !election.leadsNow()) return;
    this.term = term;
    logger.warn({ term, daemonId, memberId: election.leadership().memberId }, 'this daemon is the failover leader');
    this.emit();
  }

  private lose(why: string): void {
    if (this.term === null) return;
    this.deps.logger.warn({ term: this.term, why }, 'this daemon is no longer the failover leader');
    this.term = null;
    this.emit();
  }

  private emit(): void {
    const s = this.status();
    for (const l of this.listeners) l(s);
  }

  private async refreshLoop(): Promise<void> {
    const ms = this.deps.refreshMs ?? 1_000;
    while (!this.stop$.signal.aborted) {
      await sleep(this.deps.clock, ms, this.stop$.signal).catch(() => undefined);
      if (this.stop$.signal.aborted) break;
      await this.deps.control.refresh().catch((err: unknown) => this.deps.logger.debug({ err: errorMessage(err) }, 'control log refresh failed'));
      const l = this.deps.election.leadership();
      // Our lease lapsed (paused past the session): stop leading until the group confirms us again.
      if (this.term !== null && this.deps.election.leaseExpired()) this.lose('lease expired');
      else if (this.term === null && l.leader && this.deps.election.leadsNow()) this.changed(l);
      else if (this.term !== null && this.deps.control.leader()?.term !== this.term) this.lose('a newer leader term is in the control log');
    }
  }
}
