// What the contract suite cannot show about the stand-in: fault injection, re-delivery timing on the
// simulated clock, round-robin assignment over three members, and close().
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCommandLog } from '../../../../adapters/kafka/memory-command-log.ts';
import type { LogBatch, Subscription } from '../../../../adapters/kafka/port.ts';
import { classify } from '../../../../lib/classify.ts';
import { SimulatedClock } from '../../../../lib/clock.ts';

let clock: SimulatedClock;
let log: MemoryCommandLog;
beforeEach(async () => {
  clock = new SimulatedClock(1_000);
  log = new MemoryCommandLog({ clock, random: () => 0.5 });
  await log.ensureTopic('t', 4);
});
afterEach(() => log.close());

function collect(): { batches: LogBatch[]; eachBatch: (b: LogBatch) => Promise<void>; values: () => Array<string | null> } {
  const batches: LogBatch[] = [];
  return { batches, eachBatch: async (b) => void batches.push(b), values: () => batches.flatMap((b) => b.records.map((r) => r.value)) };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

describe('MemoryCommandLog fault injection', () => {
  it('rejects produce, commit and admin calls with a retriable connection error while unavailable', async () => {
    const c = collect();
    const sub = await log.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, eachBatch: c.eachBatch });
    log.setAvailable(false);
    for (const p of [log.produce('t', [{ key: 'k', value: 'v' }]), sub.commit([{ topic: 't', partition: 0, offset: '0' }]), log.endOffsets('t'), log.committed('g', 't'), log.read('t', 0, '0', 1), log.partitionCount('t'), log.ensureTopic('u', 1)]) {
      const err = await rejection(p);
      expect(classify(err)).toEqual({ class: 'retry', source: 'kafka:KafkaJSConnectionError' });
    }
    log.setAvailable(true);
    await log.produce('t', [{ key: null, value: 'after', partition: 0 }]);
    await log.whenIdle();
    expect(c.values()).toEqual(['after']);
  });

  it('delivers nothing while unavailable and catches up when it comes back', async () => {
    const c = collect();
    await log.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, eachBatch: c.eachBatch });
    const appended = log.produce('t', [{ key: null, value: 'a', partition: 1 }]);
    log.setAvailable(false); // before the asynchronous delivery ran
    await appended;
    await log.whenIdle();
    expect(c.values()).toEqual([]);
    log.setAvailable(true);
    await log.whenIdle();
    expect(c.values()).toEqual(['a']);
  });
});

describe('MemoryCommandLog recovery', () => {
  it('after an outage, re-delivers what was delivered but not committed (members rejoin from committed offsets)', async () => {
    const c = collect();
    let assignments = 0;
    const sub = await log.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, eachBatch: c.eachBatch, onAssign: () => void assignments++ });
    await log.produce('t', ['a', 'b', 'c'].map((value) => ({ key: null, value, partition: 0 })));
    await log.whenIdle();
    await sub.commit([{ topic: 't', partition: 0, offset: '1' }]);
    log.setAvailable(false);
    log.setAvailable(true);
    await log.whenIdle();
    expect(c.values()).toEqual(['a', 'b', 'c', 'b', 'c']);
    expect(assignments).toBe(2);
  });
});

describe('MemoryCommandLog delivery', () => {
  it('re-delivers a failed batch only after the back-off has passed on the clock', async () => {
    let calls = 0;
    await log.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      eachBatch: async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
    });
    await log.produce('t', [{ key: null, value: 'a', partition: 0 }]);
    await log.whenIdle();
    expect(calls).toBe(1);
    clock.increment(99); // first back-off is 100 ms (jitter at its midpoint)
    await log.whenIdle();
    expect(calls).toBe(1);
    clock.increment(1);
    await log.whenIdle();
    expect(calls).toBe(2);
  });

  it('never runs two batches of one partition at once, and keeps other partitions flowing meanwhile', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    let inFlight0 = 0;
    let maxInFlight0 = 0;
    await log.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      eachBatch: async (b) => {
        if (b.partition === 0) {
          maxInFlight0 = Math.max(maxInFlight0, ++inFlight0);
          await gate;
          inFlight0--;
        }
        seen.push(...b.records.map((r) => `${r.partition}:${r.value}`));
      },
    });
    await log.produce('t', [{ key: null, value: 'a', partition: 0 }]);
    await Promise.resolve();
    await log.produce('t', [{ key: null, value: 'b', partition: 0 }, { key: null, value: 'x', partition: 1 }]);
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(seen).toEqual(['1:x']);
    release();
    await log.whenIdle();
    expect(seen).toEqual(['1:x', '0:a', '0:b']);
    expect(maxInFlight0).toBe(1);
  });

  it('splits partitions round-robin over three members and keeps a member’s in-flight batch out of the new owner’s hands', async () => {
    const assigned = new Map<string, number[]>();
    const subs: Subscription[] = [];
    for (const name of ['a', 'b', 'c']) {
      subs.push(await log.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, eachBatch: async () => undefined, onAssign: (x) => assigned.set(name, x.map((p) => p.partition)) }));
    }
    expect(Object.fromEntries(assigned)).toEqual({ a: [0, 3], b: [1], c: [2] });
    await subs[1]!.stop();
    expect(Object.fromEntries(assigned)).toEqual({ a: [0, 2], b: [1], c: [1, 3] });
  });

  it('close() stops every subscription, after which calls fail', async () => {
    const sub = await log.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, eachBatch: async () => undefined });
    await log.close();
    expect(classify(await rejection(sub.commit([{ topic: 't', partition: 0, offset: '1' }]))).class).toBe('fatal');
    expect(classify(await rejection(log.produce('t', [{ key: 'k', value: 'v' }]))).class).toBe('retry');
  });

  it('refuses malformed offsets and unknown partitions', async () => {
    const sub = await log.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, eachBatch: async () => undefined });
    expect(() => sub.seek('t', 0, '-1')).toThrow(RangeError);
    await expect(sub.commit([{ topic: 't', partition: 0, offset: 'x' }])).rejects.toThrow(RangeError);
    await expect(log.produce('t', [{ key: null, value: 'v', partition: 4 }])).rejects.toThrow(/topic-partition/);
    await expect(log.read('t', 9, '0', 1)).rejects.toThrow(/topic-partition/);
  });
});
