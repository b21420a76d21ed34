// A sink's two loops of its own, through the retry machine on simulated time: preparing the target (kind
// sink-prepare: every error tried again, without bound, until the sink stops) and re-delivering from the
// committed offsets after a failed write (kind sink-rewind: the backoff grows while failures repeat without
// committed progress, and progress ends the run). Each reports under its kind; stopping ends its backoff.
import { describe, expect, it } from 'vitest';
import type { CommandLog, LogBatch, LogRecord, SubscribeOptions, Subscription, TopicPartitionOffset } from '../../../adapters/kafka/port.ts';
import type { SinkItem, SinkWorkerMsg } from '../../../actors/sink/messages.ts';
import { Sink } from '../../../actors/sink/sink.ts';
import { SinkConsumer } from '../../../actors/sink/sink-consumer.ts';
import type { SinkTarget } from '../../../actors/sink/target.ts';
import { ActorSystem, type ActorHandle } from '../../../actors/runtime/system.ts';
import { loadConfig } from '../../../config/index.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { createBreaker } from '../../../machines/breaker/breaker.ts';
import { createInspectionBus, type MachineRecord } from '../../../machines/inspection.ts';
import { simulatedUntil } from '../../support/sim.ts';

const config = loadConfig({ env: {}, overrides: {} });
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9200'), { code: 'ECONNREFUSED' });

/** A one-partition log whose subscription the test drives: it records pauses, seeks, resumes and commits. */
function fakeLog() {
  const calls: string[] = [];
  let handler: ((b: LogBatch) => Promise<void>) | null = null;
  let committed = new Map<number, string>();
  const sub: Subscription = {
    pause: () => void calls.push('pause'),
    resume: () => void calls.push('resume'),
    paused: () => [],
    seek: (_t, _p, o) => void calls.push(`seek ${o}`),
    commit: async (offsets: TopicPartitionOffset[]) => {
      for (const o of offsets) committed.set(o.partition, o.offset);
      calls.push(`commit ${offsets.map((o) => o.offset).join(',')}`);
    },
    stop: async () => void calls.push('stop'),
  };
  const log = {
    partitionCount: async () => 1,
    subscribe: async (opts: SubscribeOptions) => ((handler = opts.eachBatch), sub),
    committed: async () => new Map(committed),
  } as unknown as CommandLog;
  const record = (offset: number): LogRecord => ({ topic: 'cmds', partition: 0, offset: String(offset), key: null, value: String(offset), headers: {}, timestamp: 0 });
  const deliver = (from: number, n: number) => handler!({ topic: 'cmds', partition: 0, records: Array.from({ length: n }, (_, i) => record(from + i)), highWatermark: String(from + n) });
  return { log, calls, deliver, reset: () => (committed = new Map()) };
}

function telemetry() {
  const bus = createInspectionBus({ capacity: 0 });
  const records: MachineRecord[] = [];
  bus.subscribe((r) => records.push(r));
  const path = (id: string) => records.filter((r) => r.machineId === id && r.type === 'machine.transition').map((r) => r.to);
  const waits = (id: string) => records.filter((r) => r.machineId === id && r.to === 'backing-off').map((r) => (r.context as { deadline: number }).deadline - r.at);
  return { bus, records, path, waits };
}

const target = (over: Partial<SinkTarget<number>> = {}): SinkTarget<number> => ({
  name: 'search',
  coalesce: false,
  prepare: async () => undefined,
  probe: async () => undefined,
  transform: (r) => ({ kind: 'item', payload: Number(r.value) }),
  write: async (p) => p.map(() => ({ status: 'ok' as const })),
  ...over,
});

describe('sink rewind (kind sink-rewind)', () => {
  function setup() {
    const clock = new SimulatedClock(0);
    const t = telemetry();
    const l = fakeLog();
    let fail = true;
    const worker = {
      send: async (m: SinkWorkerMsg<number>) => {
        if (m.type !== 'sink.items') return;
        for (const item of m.items as Array<SinkItem<number>>) fail ? item.fail(refused()) : item.done('written');
      },
    } as unknown as ActorHandle<SinkWorkerMsg<number>>;
    const stop = new AbortController();
    const consumer = new SinkConsumer<number>({ log: l.log, topic: 'cmds', groupId: 'indexer', target: target(), workerFor: () => worker, clock, logger: silentLogger(), commitIntervalMs: 50, signal: stop.signal, random: () => 0.5, rewind: { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 0.2 }, inspect: t.bus });
    return { clock, t, l, consumer, stop, heal: () => (fail = false) };
  }

  it('backs off under sink-rewind, growing while failures repeat without progress; progress ends the run', async () => {
    const s = setup();
    const id = 'retry:sink-rewind:indexer';
    const resumes = () => s.l.calls.filter((c) => c === 'resume').length;
    await s.consumer.start();
    await s.l.deliver(0, 3);
    expect(s.consumer.pauseReasons()).toEqual(['rewind']);
    await simulatedUntil(() => resumes() === 1, s.clock, 'first resume', { stepMs: 10 });
    expect(s.l.calls.filter((c) => c.startsWith('seek'))).toEqual(['seek 0']); // nothing committed: from the beginning
    // The pause committed offset 0, the group's first commit: progress, so that run ended (as the counter was
    // reset before the machine) and the next failure backs off from the start; then failures repeat.
    for (let n = 2; n <= 3; n++) {
      await s.l.deliver(0, 3);
      await simulatedUntil(() => resumes() === n, s.clock, `resume ${n}`, { stepMs: 10 });
    }
    s.heal();
    await s.l.deliver(0, 3);
    await simulatedUntil(() => s.t.path(id).filter((st) => st === 'succeeded').length === 2, s.clock, 'progress ends the run', { stepMs: 10 });
    expect(s.t.waits(id)).toEqual([100, 100, 200]);
    expect(s.t.path(id)).toEqual(['backing-off', 'attempting', 'succeeded', 'backing-off', 'attempting', 'backing-off', 'attempting', 'succeeded']);
    expect(s.l.calls).toContain('commit 3');
    await s.consumer.drain(0);
  });

  it('stopping (drain) ends a backoff: no resume afterwards', async () => {
    const s = setup();
    await s.consumer.start();
    await s.l.deliver(0, 2);
    await simulatedUntil(() => s.t.path('retry:sink-rewind:indexer').includes('backing-off'), s.clock, 'backing off', { stepMs: 1, maxMs: 0 });
    await s.consumer.drain(0);
    expect(s.t.path('retry:sink-rewind:indexer')).toEqual(['backing-off', 'aborted']);
    s.clock.increment(10_000);
    await simulatedUntil(() => true, s.clock, 'turns', { maxMs: 0 });
    expect(s.l.calls).not.toContain('resume');
  });
});

describe('sink prepare (kind sink-prepare)', () => {
  function setup(prepare: () => Promise<void>) {
    const clock = new SimulatedClock(0);
    const t = telemetry();
    const l = fakeLog();
    const system = new ActorSystem({ clock, logger: silentLogger(), onFatal: () => undefined });
    const root = system.spawn({ name: 'root', kind: 'supervisor', init: () => null, receive: (st: null) => st });
    const breaker = createBreaker({ ...config.breaker, minimumCalls: 1_000 }, { clock, name: 'search' });
    const sink = new Sink<number>({
      target: target({ prepare }),
      topic: 'cmds',
      groupId: 'indexer',
      poolSize: 1,
      batchSize: 10,
      batchWindowMs: 10,
      mailboxCapacity: 10,
      commitIntervalMs: 50,
      probes: 1,
      log: l.log,
      dlq: { send: async () => undefined },
      breaker,
      retry: config.retry,
      prepareRetry: { initialMs: 500, multiplier: 2, maxMs: 2_000, jitter: 0 },
      system,
      parent: root,
      clock,
      logger: silentLogger(),
      inspect: t.bus,
    });
    return { clock, t, sink, breaker, system };
  }

  it('retries every error without bound under sink-prepare, then consumes', async () => {
    let n = 0;
    const s = setup(async () => {
      if (++n < 6) throw n % 2 ? refused() : new Error('an error nobody classifies');
    });
    const started = s.sink.start();
    await simulatedUntil(() => s.sink.status().phase === 'running', s.clock, 'consuming', { stepMs: 100 });
    await started;
    expect(n).toBe(6);
    expect(s.t.waits('retry:sink-prepare:search')).toEqual([500, 1_000, 2_000, 2_000, 2_000]);
    expect(s.sink.status().prepareError).toBeUndefined();
    await s.sink.stop(0);
    s.breaker.stop();
  });

  it('stopping the sink ends the backoff; the sink never consumes', async () => {
    const s = setup(async () => Promise.reject(refused()));
    const started = s.sink.start();
    await simulatedUntil(() => s.t.path('retry:sink-prepare:search').includes('backing-off'), s.clock, 'backing off', { stepMs: 1, maxMs: 0 });
    expect(s.sink.status()).toMatchObject({ phase: 'preparing', prepareError: expect.stringContaining('ECONNREFUSED') });
    await s.sink.stop(0);
    await started;
    expect(s.t.path('retry:sink-prepare:search')).toEqual(['backing-off', 'aborted']);
    s.breaker.stop();
  });
});
