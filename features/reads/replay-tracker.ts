// Tracks one cluster's WAL positions continuously: a small poll loop calls store.probe(), which also feeds the
// store's own routing (a read with a token goes to a replica whose replay LSN has reached it, else to the
// primary). The read side uses the positions as lower bounds: data read from a node reflects at least what
// that node had replayed (or, on the primary, written) when it was last probed before the read.
import type { NodeProbe, ShardStore } from '../../adapters/pg/port.ts';
import { maxLsn } from '../../adapters/pg/lsn.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';

export interface NodePosition {
  node: string;
  up: boolean;
  role?: 'primary' | 'replica';
  /** Highest position seen: the primary's current LSN, a replica's replay LSN. Only moves forward. */
  lsn?: string;
  probedAt: number;
  error?: string;
}

export class ReplayTracker {
  /** Replaced, never mutated, on each poll: a snapshot is the current map itself. */
  private positions: ReadonlyMap<string, NodePosition> = new Map();
  private timer: TimerHandle | null = null;
  private inFlight: Promise<void> | null = null;
  private stopped = true;
  private polls = 0;
  private failures = 0;
  private primary: string | null = null;

  constructor(
    readonly store: ShardStore,
    private readonly deps: { clock: Clock; logger: Logger; intervalMs: number },
  ) {}

  get cluster(): string {
    return this.store.cluster;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = () => {
      this.timer = null;
      void this.refresh().finally(() => {
        if (!this.stopped) this.timer = this.deps.clock.setTimeout(loop, this.deps.intervalMs);
      });
    };
    loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Probes every node now (joins a probe already running); never rejects. */
  refresh(): Promise<void> {
    this.inFlight ??= this.store
      .probe()
      .then((probes) => this.note(probes))
      .catch((err: unknown) => {
        this.failures++;
        this.deps.logger.warn({ cluster: this.cluster, err: errorMessage(err) }, 'replay position probe failed');
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  /** A lower bound of what `node` holds, as known before now; undefined when never seen. */
  lowerBound(node: string): string | undefined {
    return this.positions.get(node)?.lsn;
  }

  /** The highest position seen on any node of the cluster (a lower bound of the primary's WAL position). */
  highest(): string | undefined {
    let best: string | undefined;
    for (const p of this.positions.values()) if (p.lsn) best = best ? maxLsn(best, p.lsn) : p.lsn;
    return best;
  }

  /** Node → position, as known now: taken before a read so that the bound predates the read. */
  snapshot(): ReadonlyMap<string, NodePosition> {
    return this.positions;
  }

  status(): { cluster: string; polls: number; failures: number; nodes: NodePosition[] } {
    return { cluster: this.cluster, polls: this.polls, failures: this.failures, nodes: [...this.positions.values()] };
  }

  private note(probes: NodeProbe[]): void {
    this.polls++;
    // After a promotion positions start over: a rewound node's WAL may restart below what we saw before.
    const primary = this.store.topology().primary;
    const prevPositions = primary === this.primary ? this.positions : new Map<string, NodePosition>();
    this.primary = primary;
    const positions = new Map<string, NodePosition>();
    const at = this.deps.clock.now();
    for (const p of probes) {
      const prev = prevPositions.get(p.name);
      const seen = p.up ? (p.role === 'primary' ? p.currentLsn : p.replayLsn) : undefined;
      const lsn = seen && prev?.lsn ? maxLsn(prev.lsn, seen) : (seen ?? prev?.lsn);
      const next: NodePosition = { node: p.name, up: p.up, probedAt: at };
      if (p.role) next.role = p.role;
      if (lsn) next.lsn = lsn;
      if (p.error) next.error = p.error;
      positions.set(p.name, next);
    }
    this.positions = positions;
  }
}
