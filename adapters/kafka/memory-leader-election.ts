// The embedded stand-in of LeaderElection: one process is the whole deployment, so it leads once it joins.
import type { Clock } from '../../lib/clock.ts';
import type { LeaderElection, Leadership } from './leader-election-port.ts';

export class MemoryLeaderElection implements LeaderElection {
  readonly sessionTimeoutMs = 0;
  private state: Leadership;
  private readonly listeners = new Set<(l: Leadership) => void>();

  constructor(
    readonly topic: string,
    private readonly deps: { clock: Clock; daemonId: string },
  ) {
    this.state = { leader: false, daemonId: deps.daemonId, memberId: null, joins: 0, since: deps.clock.now() };
  }

  async prepare(): Promise<void> {}

  join(): void {
    this.state = { ...this.state, leader: true, memberId: this.deps.daemonId, joins: this.state.joins + 1, since: this.deps.clock.now() };
    for (const l of this.listeners) l(this.state);
  }

  leadership(): Leadership {
    return { ...this.state };
  }

  leadsNow(): boolean {
    return this.state.leader;
  }

  leaseExpired(): boolean {
    return false;
  }

  onChange(listener: (l: Leadership) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    if (!this.state.leader) return;
    this.state = { ...this.state, leader: false, since: this.deps.clock.now() };
    for (const l of this.listeners) l(this.state);
  }
}
