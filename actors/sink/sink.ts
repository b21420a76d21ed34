// A sink, assembled: its supervisor, a pool of workers (actors), its consumer, and its breaker wired to the
// consumer — the breaker opening pauses the partitions (no retries burnt while the dependency is down),
// half-open runs the target's probe, closing seeks back to the committed offsets and resumes. The same
// machinery runs every target (search index, analytics); the DLQ replayer re-drives through redrive().
import type { CommandLog } from '../../adapters/kafka/port.ts';
import type { DeadLetterSink } from '../dlq/dead-letter.ts';
import type { ChildPolicy, Policy } from '../runtime/policy.ts';
import type { ActorHandle, ActorSystem } from '../runtime/system.ts';
import type { Breaker, BreakerTransition, InspectionBus, RetryPolicy } from '../../machines/index.ts';
import type { BackoffPolicy } from '../../lib/backoff.ts';
import { classify, type ErrorClass } from '../../lib/classify.ts';
import type { Clock } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { runWithRetry } from '../../machines/retry/run-with-retry.ts';
import { retryEveryError } from '../../machines/retry/session.ts';
import type { ItemDone, SinkItem, SinkWorkerMsg } from './messages.ts';
import { SinkConsumer } from './sink-consumer.ts';
import { SinkWorker, sinkWorkerSpec } from './sink-worker.ts';
import type { SinkTarget, SourceRecord } from './target.ts';
import { writeWithRetry, type WriteDeps, type WriteOutcome } from './write-with-retry.ts';

export interface SinkHooks {
  onDone?: (how: ItemDone | 'skipped', item: { partition: number; offset: string; timestamp: number }) => void;
  onCommitted?: (partition: number, offset: bigint) => void;
  onRetry?: (cls: ErrorClass) => void;
  onWrite?: (info: { size: number; ms: number; outcomes: WriteOutcome[] }) => void;
  onBreaker?: (t: BreakerTransition) => void;
}

export interface SinkOptions<I> {
  target: SinkTarget<I>;
  topic: string;
  groupId: string;
  poolSize: number;
  batchSize: number;
  batchWindowMs: number;
  mailboxCapacity: number;
  commitIntervalMs: number;
  /** Half-open probes to run (the breaker's halfOpenProbes). */
  probes: number;
  log: CommandLog;
  dlq: DeadLetterSink;
  breaker: Breaker;
  retry: RetryPolicy;
  /** Back-off while the target is not ready (config retryLoops.sinkPrepare); tried until it is or the sink stops. */
  prepareRetry?: BackoffPolicy;
  /** Back-off before re-delivering from the committed offsets after a failed write (config retryLoops.sinkRewind). */
  rewindRetry?: BackoffPolicy;
  system: ActorSystem;
  parent: ActorHandle<unknown>;
  workerPolicy?: Policy<SinkWorkerMsg<I>>;
  /** What the sink's supervisor does with a worker in a restart storm (park it for a while, then stop it). */
  childPolicy?: ChildPolicy;
  clock: Clock;
  logger: Logger;
  inspect?: Pick<InspectionBus, 'publish'>;
  hooks?: SinkHooks;
}

export type SinkPhase = 'idle' | 'preparing' | 'running' | 'stopped';

/** Today's constants, the defaults of config retryLoops.sinkPrepare. */
const defaultPrepareRetry: BackoffPolicy = { initialMs: 500, multiplier: 2, maxMs: 15_000, jitter: 0.2 };

export class Sink<I> {
  readonly consumer: SinkConsumer<I>;
  readonly workers: Array<{ worker: SinkWorker<I>; handle: ActorHandle<SinkWorkerMsg<I>> }> = [];
  private readonly abort = new AbortController();
  private readonly logger: Logger;
  private phase: SinkPhase = 'idle';
  private prepareError: string | null = null;
  private unsubscribe: () => void;
  private probing = false;
  private starting: Promise<void> | null = null;

  constructor(readonly opts: SinkOptions<I>) {
    const { target, system, clock } = opts;
    this.logger = opts.logger.child({ sink: target.name, group: opts.groupId });
    const supervisor = system.spawn({ name: target.name, kind: 'supervisor', init: () => null, receive: (s: null) => s, ...(opts.childPolicy ? { childPolicy: opts.childPolicy } : {}) }, opts.parent);
    for (let i = 0; i < opts.poolSize; i++) {
      const name = `${target.name}-${i}`;
      const worker = new SinkWorker<I>({
        name,
        target,
        breaker: opts.breaker,
        dlq: opts.dlq,
        consumer: opts.groupId,
        clock,
        logger: this.logger.child({ actor: `${supervisor.path}/${name}` }),
        retry: opts.retry,
        batchSize: opts.batchSize,
        batchWindowMs: opts.batchWindowMs,
        signal: this.abort.signal,
        ...(opts.inspect ? { inspect: opts.inspect } : {}),
        ...(opts.hooks?.onRetry ? { onRetry: opts.hooks.onRetry } : {}),
        ...(opts.hooks?.onWrite ? { onWrite: opts.hooks.onWrite } : {}),
      });
      const handle = system.spawn(sinkWorkerSpec(worker, { name, kind: `${target.name}-worker`, mailboxCapacity: opts.mailboxCapacity, ...(opts.workerPolicy ? { policy: opts.workerPolicy } : {}) }), supervisor);
      worker.tellSelf = (m) => void handle.tell(m);
      this.workers.push({ worker, handle });
    }
    this.consumer = new SinkConsumer<I>({
      log: opts.log,
      topic: opts.topic,
      groupId: opts.groupId,
      target,
      workerFor: (p) => this.workers[p % this.workers.length]!.handle,
      clock,
      logger: this.logger,
      commitIntervalMs: opts.commitIntervalMs,
      signal: this.abort.signal,
      ...(opts.rewindRetry ? { rewind: opts.rewindRetry } : {}),
      ...(opts.inspect ? { inspect: opts.inspect } : {}),
      ...(opts.hooks?.onDone ? { onDone: opts.hooks.onDone } : {}),
      ...(opts.hooks?.onCommitted ? { onCommitted: opts.hooks.onCommitted } : {}),
    });
    this.unsubscribe = opts.breaker.subscribe((t) => this.onBreaker(t));
  }

  get name(): string {
    return this.opts.target.name;
  }

  get breaker(): Breaker {
    return this.opts.breaker;
  }

  /** Prepares the target (retrying until it succeeds or the sink stops), then starts consuming. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      this.phase = 'preparing';
      // The retry machine (kind 'sink-prepare'): every error is tried again, without bound, until the sink stops.
      const res = await runWithRetry(() => this.opts.breaker.call(() => this.opts.target.prepare()), {
        kind: 'sink-prepare',
        detail: this.opts.target.name,
        clock: this.opts.clock,
        policy: { ...(this.opts.prepareRetry ?? defaultPrepareRetry), retries: Number.POSITIVE_INFINITY },
        signal: this.abort.signal,
        classify: retryEveryError(classify),
        rebuildOnReroute: false,
        ...(this.opts.inspect ? { inspect: this.opts.inspect } : {}),
        onRetry: ({ error, delayMs }) => {
          this.prepareError = errorMessage(error);
          this.logger.warn({ err: this.prepareError, retryInMs: delayMs }, 'sink target not ready; retrying');
        },
      });
      if (res.ok) this.prepareError = null;
      if (this.abort.signal.aborted) return;
      await this.consumer.start();
      this.phase = 'running';
      this.logger.info('sink consuming');
    })();
    return this.starting;
  }

  private onBreaker(t: BreakerTransition): void {
    this.opts.hooks?.onBreaker?.(t);
    if (t.to === 'open' || t.to === 'forced-open') {
      this.logger.warn({ from: t.from, to: t.to, retryAt: t.retryAt, trip: t.trip }, 'breaker open: pausing the sink partitions');
      this.consumer.pause('breaker');
    } else if (t.to === 'half-open') {
      void this.probe();
    } else {
      this.logger.info({ from: t.from, to: t.to }, 'breaker closed: resuming from the committed offsets');
      void this.consumer.unpause('breaker');
    }
  }

  /** Half-open: the target's probe, through the breaker, until the breaker decides. */
  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      for (let i = 0; i < this.opts.probes && this.opts.breaker.state() === 'half-open' && !this.abort.signal.aborted; i++) {
        try {
          await this.opts.breaker.call(() => this.opts.target.probe());
        } catch (err) {
          this.logger.info({ err: errorMessage(err) }, 'half-open probe failed');
          break;
        }
      }
    } finally {
      this.probing = false;
    }
  }

  /** Writes records re-driven from the DLQ (each with its original position) through the same breaker. */
  redrive(records: SourceRecord[], signal?: AbortSignal): Promise<WriteOutcome[]> {
    return redriveRecords(records, { target: this.opts.target, breaker: this.opts.breaker, clock: this.opts.clock, policy: this.opts.retry, signal: signal ? AbortSignal.any([signal, this.abort.signal]) : this.abort.signal, ...(this.opts.inspect ? { inspect: this.opts.inspect } : {}) });
  }

  status() {
    const b = this.opts.breaker.stats();
    return {
      name: this.name,
      group: this.opts.groupId,
      phase: this.phase,
      ...(this.prepareError ? { prepareError: this.prepareError } : {}),
      paused: this.consumer.isPaused(),
      pauseReasons: this.consumer.pauseReasons(),
      breaker: { state: b.state, trips: b.trips, rejected: b.rejected, retryAt: b.retryAt },
      inFlight: this.consumer.inFlight(),
      buffered: this.workers.reduce((n, w) => n + w.worker.buffered, 0),
      committed: Object.fromEntries([...this.consumer.committedOffsets()].map(([p, o]) => [p, o.toString()])),
    };
  }

  /** Drains (bounded), commits what is finished, stops the workers' waits. */
  async stop(deadlineMs: number): Promise<void> {
    if (this.phase === 'stopped') return;
    const wasRunning = this.phase === 'running';
    this.phase = 'stopped';
    for (const w of this.workers) w.handle.tell({ type: 'sink.flush' });
    if (wasRunning) await this.consumer.drain(deadlineMs);
    this.abort.abort();
    await this.starting?.catch(() => undefined);
    if (!wasRunning) await this.consumer.drain(0).catch(() => undefined);
    this.unsubscribe();
    for (const w of this.workers) w.handle.stop('sink stopped');
  }
}

/** Transform and write records outside the consumer (DLQ re-drives); a record that no longer transforms is poison. */
export async function redriveRecords<I>(records: SourceRecord[], deps: WriteDeps<I>): Promise<WriteOutcome[]> {
  const outcomes: WriteOutcome[] = new Array(records.length);
  const idx: number[] = [];
  const payloads: I[] = [];
  records.forEach((r, i) => {
    const t = deps.target.transform(r);
    if (t.kind === 'skip') {
      const now = deps.clock.now();
      outcomes[i] = { kind: 'failed', errorClass: 'poison', code: t.code, message: t.reason, attempts: 0, firstFailureAt: now, lastFailureAt: now };
    } else {
      idx.push(i);
      payloads.push(t.payload);
    }
  });
  if (payloads.length > 0) {
    const res = await writeWithRetry(
      payloads.map((payload) => ({ payload })),
      deps,
    );
    idx.forEach((i, k) => (outcomes[i] = res.outcomes[k]!));
  }
  return outcomes;
}

export type { SinkItem };
