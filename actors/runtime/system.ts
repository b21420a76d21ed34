// The actor runtime: the facade over nact (reached only through ./nact-binding.ts, typed, no casts). What nact
// lacks is owned here, in one place: restart with exponential backoff (awaited inside nact's onCrash, on the
// injected clock), the restart-intensity limit that escalates to the parent's child policy, bounded mailboxes
// with backpressure, a count and a log line for every message sent to a dead actor, and a lifecycle event
// stream for the flight recorder and the dashboard. Decisions themselves are pure policies (./policy.ts).
import { sleep, type Clock } from '../../lib/clock.ts';
import { classify } from '../../lib/classify.ts';
import { ErrorCodes, TagstreamError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { MailboxGate } from './mailbox.ts';
import { dispatch, spawnActor, startSystem, stop, type ActorRef, type CrashVerdict, type SystemRef } from './nact-binding.ts';
import type { ChildPolicy, Decision, Policy } from './policy.ts';

export type ActorStatus = 'running' | 'restarting' | 'parked' | 'stopped';

export interface ActorInfo {
  path: string;
  kind: string;
  status: ActorStatus;
  restarts: number;
  mailboxDepth: number;
  mailboxCapacity: number;
  lastError?: string;
  children: string[];
}

export type LifecycleEvent =
  | { type: 'actor.spawned'; path: string; kind: string; at: number }
  | { type: 'actor.crashed'; path: string; kind: string; error: string; /** The error's classification source (e.g. `pg:42501`). */ errorSource: string; decision: Decision['kind']; at: number }
  | { type: 'actor.restarted'; path: string; restarts: number; at: number }
  | { type: 'actor.escalated'; path: string; to: string; decision: Decision['kind']; at: number }
  | { type: 'actor.stopped'; path: string; reason: string; at: number }
  | { type: 'actor.dead-letter'; path: string; messageType: string; at: number }
  | { type: 'actor.fatal'; path: string; error: string; at: number };

export interface ActorSpec<S, M> {
  name: string;
  /** Shown on the dashboard: 'shard-writer', 'supervisor', … */
  kind: string;
  init: () => S;
  receive: (state: S, msg: M) => S | Promise<S>;
  policy?: Policy<M>;
  /** What this actor does with a child that escalated (supervisors). */
  childPolicy?: ChildPolicy;
  mailboxCapacity?: number;
  /** How much of the mailbox's capacity a message takes (default 1): e.g. the number of commands it carries. */
  weight?: (msg: M) => number;
  /** Messages lost to a crash or a stop (nact drops them): the owner fails their replies so nothing hangs. */
  onDropped?: (msg: M, err: unknown) => void;
}

export interface ActorHandle<M> {
  readonly path: string;
  /** Non-blocking: false when the mailbox is full or the actor is dead (counted and logged). */
  tell(msg: M): boolean;
  /** Waits for mailbox space (backpressure); rejects with TS_ERR_ACTOR_STOPPED if the actor is dead. */
  send(msg: M, signal?: AbortSignal): Promise<void>;
  info(): ActorInfo;
  stop(reason?: string): void;
}

interface Cell {
  path: string;
  kind: string;
  /** Set right after nact spawns it (a crash handler cannot run before). */
  ref?: ActorRef<never>;
  gate: MailboxGate;
  status: ActorStatus;
  restartTimes: number[];
  escalationTimes: number[];
  restarts: number;
  lastError?: string;
  parent?: Cell;
  childPolicy?: ChildPolicy;
  children: Set<Cell>;
}

const msgType = (m: unknown): string => (m && typeof m === 'object' && 'type' in m && typeof m.type === 'string' ? m.type : typeof m);

export class ActorSystem {
  private readonly root: SystemRef;
  private readonly cells = new Map<string, Cell>();
  private readonly listeners = new Set<(e: LifecycleEvent) => void>();
  private readonly abort = new AbortController();
  deadLetters = 0;

  constructor(
    private readonly deps: { clock: Clock; logger: Logger; name?: string; onFatal?: (path: string, err: unknown) => void },
  ) {
    // nact keeps its systems in one process-wide map by name: two systems of one name (two daemons in a process,
    // as the chaos tests run them) would share it, and one's messages would reach the other's actors. Our paths
    // do not depend on it, so every system gets a name of its own.
    this.root = startSystem(`${deps.name ?? 'tagstream'}-${Math.random().toString(36).slice(2, 10)}`);
  }

  onLifecycle(fn: (e: LifecycleEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: LifecycleEvent): void {
    for (const l of this.listeners) l(e);
  }

  spawn<S, M>(spec: ActorSpec<S, M>, parent?: ActorHandle<unknown>): ActorHandle<M> {
    const parentCell = parent ? this.cells.get(parent.path) : undefined;
    const path = `${parentCell?.path ?? ''}/${spec.name}`;
    if (this.cells.has(path) && this.cells.get(path)!.status !== 'stopped') throw new Error(`actor ${path} already exists`);
    const gate = new MailboxGate(spec.mailboxCapacity ?? 10_000);
    const log = this.deps.logger.child({ actor: path });
    const cell: Cell = { path, kind: spec.kind, gate, status: 'running', restartTimes: [], escalationTimes: [], restarts: 0, children: new Set(), ...(parentCell ? { parent: parentCell } : {}), ...(spec.childPolicy ? { childPolicy: spec.childPolicy } : {}) };

    const onCrash = async ({ msg, err, queued }: { msg: M | undefined; err: unknown; queued: M[] }): Promise<CrashVerdict> => {
      cell.lastError = errorMessage(err);
      if (msg !== undefined) spec.onDropped?.(msg, err);
      const now = this.deps.clock.now();
      let decision: Decision = spec.policy ? spec.policy(msg, err, { path, now, restarts: cell.restartTimes }) : { kind: 'stop' };
      this.emit({ type: 'actor.crashed', path, kind: spec.kind, error: cell.lastError, errorSource: classify(err).source, decision: decision.kind, at: now });
      log.error({ err, decision: decision.kind }, 'actor crashed');
      const escalated = decision.kind === 'escalate';
      if (escalated) decision = this.escalate(cell, err);
      switch (decision.kind) {
        case 'resume':
          return 'resume';
        case 'restart': {
          cell.status = decision.delayMs > 5_000 ? 'parked' : 'restarting';
          try {
            await sleep(this.deps.clock, decision.delayMs, this.abort.signal);
          } catch {
            return this.stopCell(cell, spec.onDropped, queued, 'shutdown during restart backoff');
          }
          // A restart after the supervisor's cool-down starts a fresh intensity budget.
          if (!escalated) cell.restartTimes = [...cell.restartTimes, this.deps.clock.now()].slice(-50);
          cell.restarts++;
          cell.status = 'running';
          this.emit({ type: 'actor.restarted', path, restarts: cell.restarts, at: this.deps.clock.now() });
          log.warn({ restarts: cell.restarts }, 'actor restarted');
          return 'reset';
        }
        case 'stop':
        case 'escalate':
          return this.stopCell(cell, spec.onDropped, queued, `stopped by supervision after: ${cell.lastError}`);
      }
    };

    const weigh = spec.weight ?? (() => 1);
    const f = async (state: S, msg: M): Promise<S> => {
      gate.release(weigh(msg));
      return spec.receive(state, msg);
    };
    const ref = spawnActor<S, M>(parentCell?.ref ?? this.root, spec.name, { init: spec.init, receive: f, onCrash });
    cell.ref = ref;
    this.cells.set(path, cell);
    parentCell?.children.add(cell);
    this.emit({ type: 'actor.spawned', path, kind: spec.kind, at: this.deps.clock.now() });
    return this.handle<M>(cell, ref, weigh);
  }

  /** A restart storm: ask the parent what to do with this child; a supervisor with nothing to say is fatal. */
  private escalate(cell: Cell, err: unknown): Decision {
    const parent = cell.parent;
    const now = this.deps.clock.now();
    if (!parent?.childPolicy) {
      this.emit({ type: 'actor.fatal', path: cell.path, error: errorMessage(err), at: now });
      this.deps.onFatal?.(cell.path, err);
      return { kind: 'stop' };
    }
    const decision = parent.childPolicy(cell.path, err, { path: parent.path, now, restarts: cell.escalationTimes });
    cell.escalationTimes.push(now);
    this.emit({ type: 'actor.escalated', path: cell.path, to: parent.path, decision: decision.kind, at: now });
    if (decision.kind === 'restart') cell.restartTimes = []; // a fresh intensity budget after the cool-down
    if (decision.kind === 'escalate') {
      this.emit({ type: 'actor.fatal', path: parent.path, error: `child ${cell.path}: ${errorMessage(err)}`, at: now });
      this.deps.onFatal?.(parent.path, err);
      return { kind: 'stop' };
    }
    return decision;
  }

  private stopCell<M>(cell: Cell, onDropped: ((m: M, e: unknown) => void) | undefined, queued: readonly M[], reason: string): CrashVerdict {
    cell.status = 'stopped';
    for (const m of queued) onDropped?.(m, new TagstreamError(ErrorCodes.ACTOR_STOPPED, `${cell.path} stopped: ${reason}`));
    cell.gate.drain();
    this.emit({ type: 'actor.stopped', path: cell.path, reason, at: this.deps.clock.now() });
    this.deps.logger.error({ actor: cell.path, reason }, 'actor stopped');
    return 'stop';
  }

  private deadLetter(cell: Cell, msg: unknown): void {
    this.deadLetters++;
    this.emit({ type: 'actor.dead-letter', path: cell.path, messageType: msgType(msg), at: this.deps.clock.now() });
    this.deps.logger.warn({ actor: cell.path, messageType: msgType(msg), deadLetters: this.deadLetters }, 'message sent to a stopped actor');
  }

  private handle<M>(cell: Cell, ref: ActorRef<M>, weigh: (m: M) => number): ActorHandle<M> {
    const deliver = (msg: M) => dispatch(ref, msg);
    const stopped = () => new TagstreamError(ErrorCodes.ACTOR_STOPPED, `${cell.path} is stopped`);
    return {
      path: cell.path,
      tell: (msg) => {
        if (cell.status === 'stopped') {
          this.deadLetter(cell, msg);
          return false;
        }
        if (!cell.gate.tryAcquire(weigh(msg))) return false;
        deliver(msg);
        return true;
      },
      send: async (msg, signal) => {
        if (cell.status === 'stopped') {
          this.deadLetter(cell, msg);
          throw stopped();
        }
        await cell.gate.acquire(signal, weigh(msg));
        if ((cell.status as ActorStatus) === 'stopped') {
          this.deadLetter(cell, msg);
          throw stopped();
        }
        deliver(msg);
      },
      info: () => ({
        path: cell.path,
        kind: cell.kind,
        status: cell.status,
        restarts: cell.restarts,
        mailboxDepth: cell.gate.depth,
        mailboxCapacity: cell.gate.capacity,
        ...(cell.lastError ? { lastError: cell.lastError } : {}),
        children: [...cell.children].map((c) => c.path),
      }),
      stop: (reason = 'stopped') => {
        if (cell.status === 'stopped') return;
        cell.status = 'stopped';
        cell.gate.drain();
        for (const child of cell.children) child.status = 'stopped';
        stop(ref);
        this.emit({ type: 'actor.stopped', path: cell.path, reason, at: this.deps.clock.now() });
      },
    };
  }

  /** The whole tree, parents before children: the dashboard and /status draw it. */
  tree(): ActorInfo[] {
    return [...this.cells.values()].map((c) => ({
      path: c.path,
      kind: c.kind,
      status: c.status,
      restarts: c.restarts,
      mailboxDepth: c.gate.depth,
      mailboxCapacity: c.gate.capacity,
      ...(c.lastError ? { lastError: c.lastError } : {}),
      children: [...c.children].map((x) => x.path),
    }));
  }

  /** Stops everything; pending restart backoffs end at once (shutdown never waits one out). */
  shutdown(): void {
    this.abort.abort();
    for (const c of this.cells.values()) c.status = 'stopped';
    stop(this.root);
  }
}
