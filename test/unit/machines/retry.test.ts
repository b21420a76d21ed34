import { getSimplePaths } from '@xstate/graph';
import { __unsafe_getAllOwnEventDescriptors, type AnyEventObject } from 'xstate';
import { describe, expect, it } from 'vitest';
import { toPgError } from '../../../adapters/pg/errors.ts';
import { toSocketError } from '../../../adapters/socket-errors.ts';
import { backoffDelay } from '../../../lib/backoff.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { TopologyChangedError } from '../../../lib/errors.ts';
import { createMachineActor } from '../../../machines/create-machine-actor.ts';
import { createInspectionBus, type MachineRecord } from '../../../machines/inspection.ts';
import { createRetryMachine } from '../../../machines/retry/machine.ts';
import { runWithRetry, type RetryResult, type RunWithRetryOptions } from '../../../machines/retry/run-with-retry.ts';
import { Effects, flush } from './support/model.ts';

const policy = { retries: 3, initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0.2 };
// Errors as an adapter's boundary raises them (classified there).
const transient = (msg = 'connection reset') => toSocketError(Object.assign(new Error(msg), { code: 'ECONNRESET' }));

/**
 * Runs fn under runWithRetry on simulated time: whenever the machine waits, time jumps exactly to the deadline
 * it published on the inspection bus, so attempt times are the policy's delays and nothing else.
 */
async function retry<T>(fn: Parameters<typeof runWithRetry<T>>[0], opts: RunWithRetryOptions & { clock: SimulatedClock }): Promise<RetryResult<T>> {
  const bus = createInspectionBus({ capacity: 1 });
  const tee = { publish: (r: MachineRecord) => (bus.publish(r), opts.inspect?.publish(r)) };
  let settled: RetryResult<T> | undefined;
  void runWithRetry(fn, { ...opts, inspect: tee }).then((r) => (settled = r));
  for (let i = 0; i < 100 && !settled; i++) {
    await flush();
    const deadline = (bus.recent()[0]?.context as { deadline: number | null } | undefined)?.deadline;
    if (!settled && deadline != null) opts.clock.set(deadline);
  }
  if (!settled) throw new Error('run did not settle');
  return settled;
}

describe('runWithRetry', () => {
  it('retries transient errors with exponential backoff and returns the value', async () => {
    const clock = new SimulatedClock(0);
    const starts: number[] = [];
    const result = await retry(
      async ({ attempt }) => {
      starts.push(clock.now());
      if (attempt < 3) throw transient();
      return `done on ${attempt}`;
      },
      { clock, policy, random: () => 0.5 },
    );
    expect(result).toMatchObject({ ok: true, value: 'done on 3', attempts: 3 });
    expect(starts).toEqual([0, 100, 300]);
    expect(result.history.map((h) => h.class)).toEqual(['retry', 'retry']);
  });

  it('exhausts after retries + 1 attempts and returns the attempt history for the dead letter', async () => {
    const clock = new SimulatedClock(5_000);
    const result = await retry(({ attempt }) => Promise.reject(transient(`reset #${attempt}`)), { clock, policy, random: () => 0 });
    expect(result).toMatchObject({ ok: false, outcome: 'exhausted', attempts: 4 });
    if (result.ok) throw new Error('unreachable');
    expect(result.history).toHaveLength(4);
    expect(result.history[0]).toEqual({ attempt: 1, at: 5_000, durationMs: 0, class: 'retry', source: 'node:ECONNRESET', code: 'ECONNRESET', name: 'BackendError', message: 'reset #1' });
    expect(result.history.map((h) => h.message)).toEqual(['reset #1', 'reset #2', 'reset #3', 'reset #4']);
    expect((result.error as Error).message).toBe('reset #4');
    // Jitter draw 0: the low end of each delay.
    const gaps = result.history.slice(1).map((h, i) => h.at - result.history[i]!.at - result.history[i]!.durationMs);
    expect(gaps).toEqual([1, 2, 3].map((n) => backoffDelay(n, policy, () => 0)));
  });

  it('a poison error goes straight to the dead letter: no retry', async () => {
    const clock = new SimulatedClock(0);
    let calls = 0;
    const result = await retry(
      () => {
        calls++;
        throw toPgError(Object.assign(new Error('value too long'), { code: '22001' }));
      },
      { clock, policy },
    );
    expect(calls).toBe(1);
    expect(result).toMatchObject({ ok: false, outcome: 'poison', attempts: 1, history: [{ class: 'poison', code: '22001' }] });
    expect(clock.pending()).toBe(0);
  });

  it('a fatal (unknown) error is not retried', async () => {
    const clock = new SimulatedClock(0);
    const result = await retry(() => Promise.reject(new Error('what is this')), { clock, policy });
    expect(result).toMatchObject({ ok: false, outcome: 'fatal', attempts: 1, history: [{ class: 'fatal', source: 'unknown:Error' }] });
  });

  it('a reroute error rebuilds the connection before the next attempt', async () => {
    const clock = new SimulatedClock(0);
    const log: string[] = [];
    const result = await retry(
      async ({ attempt }) => {
        log.push(`attempt ${attempt}`);
        if (attempt === 1) throw new TopologyChangedError('pg0 promoted n1');
        return 'written';
      },
      {
        clock,
        policy,
        onReroute: async (info) => {
          log.push(`rebuild after ${info.attempt}: ${info.error.code}`);
        },
      },
    );
    expect(result).toMatchObject({ ok: true, value: 'written', attempts: 2 });
    expect(log).toEqual(['attempt 1', 'rebuild after 1: TS_ERR_TOPOLOGY_CHANGED', 'attempt 2']);
  });

  it('a failed rebuild backs off, then tries again', async () => {
    const clock = new SimulatedClock(0);
    let rebuilds = 0;
    const result = await retry(
      async ({ attempt }) => {
        if (attempt === 1) throw toPgError(Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' }));
        return attempt;
      },
      {
        clock,
        policy,
        onReroute: () => {
          rebuilds++;
          throw new Error('no primary yet');
        },
      },
    );
    expect(rebuilds).toBe(1);
    expect(result).toMatchObject({ ok: true, value: 2 });
  });

  it('abort during a backoff ends at once, leaving no timer behind', async () => {
    const clock = new SimulatedClock(0);
    const ac = new AbortController();
    const run = runWithRetry(() => Promise.reject(transient()), { clock, policy, signal: ac.signal });
    await flush();
    expect(clock.pending()).toBe(1); // the backoff
    ac.abort('SIGTERM');
    const result = await run; // no clock movement needed
    expect(result).toMatchObject({ ok: false, outcome: 'aborted', attempts: 1 });
    expect(clock.pending()).toBe(0);
  });

  it('abort during an attempt aborts the signal the attempt was given', async () => {
    const clock = new SimulatedClock(0);
    const ac = new AbortController();
    let seen: AbortSignal | undefined;
    const run = runWithRetry(({ signal }) => {
      seen = signal;
      return new Promise(() => undefined); // hangs
    }, { clock, policy, signal: ac.signal });
    await flush();
    expect(seen?.aborted).toBe(false);
    ac.abort();
    expect(await run).toMatchObject({ ok: false, outcome: 'aborted' });
    expect(seen?.aborted).toBe(true);
  });

  it('an already aborted signal runs nothing', async () => {
    const clock = new SimulatedClock(0);
    let calls = 0;
    const result = await runWithRetry(() => calls++, { clock, policy, signal: AbortSignal.abort() });
    expect(result).toEqual({ ok: false, outcome: 'aborted', attempts: 0, history: [] });
    expect(calls).toBe(0);
  });

  it('publishes its transitions on the inspection bus', async () => {
    const clock = new SimulatedClock(0);
    const bus = createInspectionBus();
    const records: MachineRecord[] = [];
    bus.subscribe((r) => records.push(r));
    await retry(({ attempt }) => (attempt === 1 ? Promise.reject(transient()) : 'ok'), { clock, policy, inspect: bus, id: 'retry:indexer' });
    expect(records.map((r) => `${r.from}->${r.to}`)).toEqual(['null->attempting', 'attempting->backing-off', 'backing-off->attempting', 'attempting->succeeded']);
    expect(new Set(records.map((r) => r.machineId))).toEqual(new Set(['retry:indexer']));
  });
});

describe('retry machine', () => {
  it('a restored backing-off machine retries at the original deadline', async () => {
    const clock = new SimulatedClock(0);
    const effects = new Effects();
    const machine = createRetryMachine({ clock, random: () => 0.5 }).provide({ actors: { attempt: effects.actor('attempt') as never } });
    const actor = createMachineActor(machine, { clock, id: 'r', input: { policy } });
    await flush();
    effects.settle('attempt', { ok: false, error: transient() });
    await flush();
    expect(actor.getSnapshot().value).toBe('backing-off');
    expect(actor.getSnapshot().context.deadline).toBe(100);
    clock.increment(40);
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
    actor.stop();

    const restored = createMachineActor(machine, { clock, id: 'r', snapshot: persisted });
    clock.increment(59);
    expect(restored.getSnapshot().value).toBe('backing-off');
    clock.increment(1);
    expect(restored.getSnapshot().value).toBe('attempting');
    expect(restored.getSnapshot().context.attempt).toBe(2);
  });

  it('every simple path to a dead-letter state made at most retries + 1 attempts (getSimplePaths)', () => {
    const machine = createRetryMachine({ clock: new SimulatedClock(), random: () => 0.5 });
    const errors = [transient(), new TopologyChangedError('moved'), toPgError(Object.assign(new Error('bad'), { code: '23505' })), new Error('odd')];
    const events = (s: unknown): AnyEventObject[] =>
      (__unsafe_getAllOwnEventDescriptors(s as never) as string[]).flatMap((type) => (type === 'xstate.error.actor.attempt' ? errors.map((error) => ({ type, error })) : [{ type }]));
    const paths = getSimplePaths(machine, {
      input: { policy: { ...policy, retries: 2 } },
      events: ((s: { status: string }) => (s.status === 'active' ? events(s) : [])) as never,
      serializeState: ((s: { value: unknown; context: { attempt: number } }) => `${String(s.value)}:${s.context.attempt}`) as never,
      toState: ((s: { value: unknown }) => s.value === 'exhausted' || s.value === 'poisoned') as never,
    });
    expect(paths.length).toBeGreaterThan(10);
    for (const p of paths) {
      const ctx = (p.state as unknown as { context: { attempt: number; history: unknown[] } }).context;
      expect(ctx.attempt).toBeLessThanOrEqual(3);
      expect(ctx.history).toHaveLength(ctx.attempt);
      if ((p.state as unknown as { value: string }).value === 'exhausted') expect(ctx.attempt).toBe(3);
    }
  });
});
