// A command-log partition whose handler threw is delivered again after a back-off decided by the retry machine
// (kind log-redelivery): the Kafka subscription holds the partition while the machine backs off, resumes it
// for the next attempt, and a successful batch ends the run; stopping the subscription ends the back-off.
// A kafkajs consumer stand-in records pause/resume; the embedded log (MemoryCommandLog) takes the same port.
// Simulated time throughout.
import { describe, expect, it } from 'vitest';
import type { EachBatchPayload } from 'kafkajs';
import type { KafkaClient } from '../../../adapters/kafka/kafka-client.ts';
import { KafkaSubscription } from '../../../adapters/kafka/kafka-subscription.ts';
import { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { createInspectionBus, type MachineRecord } from '../../../machines/inspection.ts';
import { redeliveryWithRetryMachine } from '../../../machines/retry/redelivery.ts';
import { simulatedUntil } from '../../support/sim.ts';

function fakeKafka() {
  const calls: string[] = [];
  const handlers = new Map<string, (e: { payload: unknown }) => void>();
  let eachBatch: ((p: EachBatchPayload) => Promise<void>) | null = null;
  const events = { GROUP_JOIN: 'join', FETCH: 'fetch', CRASH: 'crash', STOP: 'stop' };
  const consumer = {
    events,
    on: (e: string, cb: (e: { payload: unknown }) => void) => void handlers.set(e, cb),
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (o: { eachBatch: (p: EachBatchPayload) => Promise<void> }) => {
      eachBatch = o.eachBatch;
      handlers.get('join')!({ payload: { memberAssignment: { cmds: [0, 1] } } });
      handlers.get('fetch')!({ payload: {} });
    },
    pause: (tps: Array<{ partitions: number[] }>) => void calls.push(`pause ${tps[0]!.partitions.join(',')}`),
    resume: (tps: Array<{ partitions: number[] }>) => void calls.push(`resume ${tps[0]!.partitions.join(',')}`),
    seek: () => undefined,
    commitOffsets: async () => undefined,
    disconnect: async () => void calls.push('disconnect'),
  };
  const resolved: string[] = [];
  const deliver = (partition: number, offset: number) =>
    eachBatch!({
      batch: { topic: 'cmds', partition, highWatermark: String(offset + 1), messages: [{ offset: String(offset), key: null, value: Buffer.from('x'), headers: {}, timestamp: '0', attributes: 0 }], lastOffset: () => String(offset) },
      resolveOffset: (o: string) => void resolved.push(`${partition}@${o}`),
      heartbeat: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
  return { kafka: { consumer: () => consumer } as unknown as KafkaClient, calls, deliver, resolved };
}

describe('command-log redelivery (kind log-redelivery)', () => {
  async function setup() {
    const clock = new SimulatedClock(0);
    const bus = createInspectionBus({ capacity: 0 });
    const records: MachineRecord[] = [];
    bus.subscribe((r) => records.push(r));
    const k = fakeKafka();
    let fail = true;
    const sub = new KafkaSubscription(
      { kafka: k.kafka, logger: silentLogger(), clock, random: () => 0.5, consumer: {}, concurrency: 1, joinTimeoutMs: 1_000, commitTimeoutMs: 1_000, redelivery: redeliveryWithRetryMachine({ policy: { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 0 }, clock, inspect: bus }) },
      {
        groupId: 'writers',
        topics: ['cmds'],
        fromBeginning: true,
        eachBatch: async () => {
          if (fail) throw new Error('handler failed');
        },
      },
    );
    await sub.start();
    const id = 'retry:log-redelivery:writers:cmds/0';
    const path = () => records.filter((r) => r.machineId === id && r.type === 'machine.transition').map((r) => r.to);
    const waits = () => records.filter((r) => r.machineId === id && r.to === 'backing-off').map((r) => (r.context as { deadline: number }).deadline - r.at);
    return { clock, k, sub, records, path, waits, heal: () => (fail = false) };
  }

  it('holds the partition while the machine backs off (growing), resumes it for the next attempt; a good batch ends the run', async () => {
    const s = await setup();
    await s.k.deliver(0, 5);
    expect(s.k.calls).toEqual(['pause 0']);
    await s.k.deliver(0, 5); // fetched meanwhile: not handled while held
    expect(s.k.resolved).toEqual([]);
    await simulatedUntil(() => s.k.calls.includes('resume 0'), s.clock, 'resumed', { stepMs: 10 });
    expect(s.clock.now()).toBe(100);
    s.sub.resume('cmds', [1]); // another partition is not held
    await s.k.deliver(0, 5); // fails again
    await simulatedUntil(() => s.k.calls.filter((c) => c === 'resume 0').length === 2, s.clock, 'resumed again', { stepMs: 10 });
    s.heal();
    await s.k.deliver(0, 5);
    expect(s.k.resolved).toEqual(['0@5']);
    await simulatedUntil(() => s.path().includes('succeeded'), s.clock, 'run ends', { stepMs: 1, maxMs: 0 });
    expect(s.waits()).toEqual([100, 200]);
    expect(s.path()).toEqual(['backing-off', 'attempting', 'backing-off', 'attempting', 'succeeded']);
    expect(s.k.calls).toEqual(['pause 0', 'resume 0', 'resume 1', 'pause 0', 'resume 0']);
    await s.sub.stop();
  });

  it('stopping the subscription ends the back-off: the partition is never resumed', async () => {
    const s = await setup();
    await s.k.deliver(0, 5);
    await simulatedUntil(() => s.path().includes('backing-off'), s.clock, 'backing off', { stepMs: 1, maxMs: 0 });
    await s.sub.stop();
    await simulatedUntil(() => s.path().includes('aborted'), s.clock, 'aborted', { stepMs: 1, maxMs: 0 });
    s.clock.increment(10_000);
    expect(s.k.calls).toEqual(['pause 0', 'disconnect']);
    expect(s.path()).toEqual(['backing-off', 'aborted']);
  });
});

describe('embedded log redelivery (kind log-redelivery)', () => {
  it('delivers a failed batch again after the machine\'s back-off, and stops with the member', async () => {
    const clock = new SimulatedClock(0);
    const bus = createInspectionBus({ capacity: 0 });
    const records: MachineRecord[] = [];
    bus.subscribe((r) => records.push(r));
    const log = new MemoryCommandLog({ clock, redelivery: redeliveryWithRetryMachine({ policy: { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 0 }, clock, inspect: bus }) });
    await log.ensureTopic('cmds', 1);
    const seen: number[] = [];
    let failures = 2;
    const sub = await log.subscribe({
      groupId: 'writers',
      topics: ['cmds'],
      fromBeginning: true,
      eachBatch: async () => {
        seen.push(clock.now());
        if (failures-- > 0) throw new Error('handler failed');
      },
    });
    await log.produce('cmds', [{ key: 'a', value: '1' }]);
    const id = 'retry:log-redelivery:writers:cmds/0';
    const path = () => records.filter((r) => r.machineId === id && r.type === 'machine.transition').map((r) => r.to);
    await simulatedUntil(() => path().includes('succeeded'), clock, 'delivered', { stepMs: 10 });
    expect(seen).toEqual([0, 100, 300]);
    expect(path()).toEqual(['backing-off', 'attempting', 'backing-off', 'attempting', 'succeeded']);

    failures = 1;
    await log.produce('cmds', [{ key: 'a', value: '2' }]);
    await simulatedUntil(() => path().filter((p) => p === 'backing-off').length === 3, clock, 'backing off again', { stepMs: 1 });
    await sub.stop();
    expect(path().at(-1)).toBe('aborted');
    await log.close();
  });
});
