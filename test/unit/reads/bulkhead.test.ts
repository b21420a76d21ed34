import { describe, expect, it } from 'vitest';
import { Bulkhead, BulkheadFullError, isBulkheadFull } from '../../../lib/bulkhead.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { classify } from '../../../lib/classify.ts';

const settle = () => new Promise<void>((r) => setImmediate(r));

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe('Bulkhead', () => {
  it('runs at most maxConcurrent at once and starts queued calls in order as slots free', async () => {
    const clock = new SimulatedClock();
    const b = new Bulkhead('t', { maxConcurrent: 2, maxQueue: 10, queueTimeoutMs: 1_000 }, clock);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) => b.run(async () => (started.push(i), await g.p, i)));
    await settle();
    expect(started).toEqual([0, 1]);
    expect(b.stats()).toMatchObject({ inFlight: 2, queued: 2 });
    gates[1]!.open();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.open();
    gates[2]!.open();
    gates[3]!.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(b.stats()).toMatchObject({ inFlight: 0, queued: 0, rejected: 0 });
  });

  it('refuses at once when the queue is full, and a queued call that waits too long', async () => {
    const clock = new SimulatedClock();
    const b = new Bulkhead('pg0-reads', { maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 100 }, clock);
    const g = gate();
    const first = b.run(() => g.p);
    const queued = b.run(async () => 'late').catch((e: unknown) => e);
    const refused = await b.run(async () => 'x').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BulkheadFullError);
    expect((refused as Error).message).toMatch(/queue full/);
    clock.increment(100);
    const timedOut = await queued;
    expect(isBulkheadFull(timedOut)).toBe(true);
    expect((timedOut as Error).message).toMatch(/queue timeout/);
    expect(classify(timedOut).class).toBe('retry');
    g.open();
    await first;
    expect(b.stats()).toMatchObject({ inFlight: 0, queued: 0, rejected: 2 });
  });

  it('a failing call frees its slot', async () => {
    const b = new Bulkhead('t', { maxConcurrent: 1, maxQueue: 0, queueTimeoutMs: 10 }, new SimulatedClock());
    await expect(b.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(b.run(async () => 'ok')).resolves.toBe('ok');
  });
});
