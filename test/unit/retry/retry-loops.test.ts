// Each retry loop of the daemon runs through the retry machine and reports its retries under its own kind
// (machine id `retry:<kind>[:…]`, tagstream_retries_total{component=<kind>}), and shutdown ends its backoff:
// the shard writer's apply, start-up steps, supervision restarts, a sink's write and a DLQ re-drive.
// Simulated time throughout; the sink's prepare and rewind are in sink-retry-loops.test.ts.
import { describe, expect, it } from 'vitest';
import type { AssocWrite, ShardStore } from '../../../adapters/pg/port.ts';
import { createWritersRedrive } from '../../../actors/dlq/redrive.ts';
import { restartWithBackoff } from '../../../actors/runtime/policy.ts';
import { applyWithRetry } from '../../../actors/shard-writer/apply.ts';
import { writeWithRetry } from '../../../actors/sink/write-with-retry.ts';
import type { SinkTarget } from '../../../actors/sink/target.ts';
import { loadConfig } from '../../../config/index.ts';
import { createMachineMetrics } from '../../../features/dashboard/machine-metrics.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { BackendError } from '../../../lib/errors.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { createMetrics } from '../../../lib/metrics.ts';
import { createBreaker } from '../../../machines/breaker/breaker.ts';
import { createInspectionBus, type MachineRecord } from '../../../machines/inspection.ts';
import { retryStartup } from '../../../machines/retry/startup.ts';
import { onSimulatedTime, simulatedUntil } from '../../support/sim.ts';

const config = loadConfig({ env: {}, overrides: {} });
/** Errors as the adapters hand them over (classified at their boundary). */
const refused = () => new BackendError({ class: 'retry', source: 'node:ECONNREFUSED' }, Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
const poison = (code: string, message: string) => new BackendError({ class: 'poison', source: `pg:${code}` }, Object.assign(new Error(message), { code }));

/** The retry telemetry as the daemon has it: an inspection bus feeding the retry counter. */
function telemetry() {
  const bus = createInspectionBus({ capacity: 0 });
  const records: MachineRecord[] = [];
  const metrics = createMetrics();
  const count = createMachineMetrics(metrics, { breaker: [], failover: [] });
  bus.subscribe((r) => {
    records.push(r);
    count(r);
  });
  const retries = async () => Object.fromEntries((await metrics.retries.get()).values.map((v) => [`${v.labels.component}/${v.labels.class}`, v.value]));
  const ids = () => [...new Set(records.map((r) => r.machineId))];
  const finals = (id: string) => records.filter((r) => r.machineId === id && r.type === 'machine.transition').map((r) => r.to);
  return { bus, records, retries, ids, finals };
}

describe("the shard writer's apply (kind shard-apply)", () => {
  it('retries without bound with a capped delay, reporting each retry under shard-apply', async () => {
    const clock = new SimulatedClock(0);
    const t = telemetry();
    let calls = 0;
    const store = {
      cluster: 'pg0',
      applyBatch: async () => {
        if (++calls < 12) throw refused();
        return { changed: 1, versioned: 1, counterDeltas: [], perShard: [], commitLsn: '0/10' };
      },
    } as unknown as ShardStore;
    const retried: number[] = [];
    const done = applyWithRetry([{} as AssocWrite], { store, clock, logger: silentLogger(), backoff: { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 }, signal: new AbortController().signal, inspect: t.bus, detail: 'pg0:shard-3', onRetry: (_e, n) => retried.push(n) });
    const outcome = await onSimulatedTime(done, clock, { stepMs: 100 });
    expect(outcome.result?.commitLsn).toBe('0/10');
    expect(retried).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]); // beyond retry.retries: unbounded
    expect(t.ids()).toEqual(['retry:shard-apply:pg0:shard-3']);
    expect(await t.retries()).toEqual({ 'shard-apply/retry': 11 });
    // Waits: 100, 200, 400, 800, then capped at 1 000.
    const waits = t.records.filter((r) => r.to === 'backing-off').map((r) => (r.context as { deadline: number }).deadline - r.at);
    expect(waits).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000]);
  });

  it('a poison batch is still bisected, and shutdown ends a backoff with an AbortError', async () => {
    const clock = new SimulatedClock(0);
    const t = telemetry();
    const bad = poison('22P02', 'invalid input syntax');
    const store = {
      cluster: 'pg0',
      applyBatch: async (ws: AssocWrite[]) => {
        if (ws.some((w) => w.tag === 'bad')) throw bad;
        return { changed: ws.length, versioned: ws.length, counterDeltas: [], perShard: [], commitLsn: '0/20' };
      },
    } as unknown as ShardStore;
    const writes = ['a', 'bad', 'c'].map((tag) => ({ tag }) as AssocWrite);
    const out = await applyWithRetry(writes, { store, clock, logger: silentLogger(), backoff: { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 }, signal: new AbortController().signal, inspect: t.bus });
    expect(out.poisoned.map((p) => p.index)).toEqual([1]);
    expect(out.result?.changed).toBe(2);
    expect(await t.retries()).toEqual({}); // poison is not a retry

    const shutdown = new AbortController();
    const down = { cluster: 'pg0', applyBatch: async () => Promise.reject(refused()) } as unknown as ShardStore;
    const run = applyWithRetry([{} as AssocWrite], { store: down, clock, logger: silentLogger(), backoff: { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0 }, signal: shutdown.signal, inspect: t.bus, detail: 'pg1' });
    await simulatedUntil(() => t.records.some((r) => r.to === 'backing-off'), clock, 'backing off', { stepMs: 1, maxMs: 0 });
    shutdown.abort();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(t.finals('retry:shard-apply:pg1')).toEqual(['backing-off', 'aborted']);
  });
});

describe('start-up steps (kind startup)', () => {
  const policy = { initialMs: 200, multiplier: 2, maxMs: 5_000, jitter: 0, giveUpAfterMs: 1_000 };

  it('retries transient errors under startup, then gives up after giveUpAfterMs with the error', async () => {
    const clock = new SimulatedClock(0);
    const t = telemetry();
    let n = 0;
    const ok = retryStartup('creating the command topic', async () => (++n < 3 ? Promise.reject(refused()) : 'made'), { clock, logger: silentLogger(), policy, inspect: t.bus });
    expect(await onSimulatedTime(ok, clock, { stepMs: 50 })).toBe('made');
    expect(t.ids()).toEqual(['retry:startup:creating the command topic']);
    expect(await t.retries()).toEqual({ 'startup/retry': 2 });

    const starts: number[] = [];
    const never = retryStartup('running migrations', async () => (starts.push(clock.now()), Promise.reject(refused())), { clock, logger: silentLogger(), policy, inspect: t.bus });
    const t0 = clock.now();
    await expect(onSimulatedTime(never, clock, { stepMs: 50 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // As before the machine: the bound is checked after each failure — 600 < 1 000 waits 800 more; 1 400 gives up.
    expect(starts.map((s) => s - t0)).toEqual([0, 200, 600, 1_400]);
    expect(t.finals('retry:startup:running migrations').at(-1)).toBe('exhausted');
  });

  it('a poison error is not retried; shutdown ends the wait with an AbortError', async () => {
    const clock = new SimulatedClock(0);
    const t = telemetry();
    const bad = poison('22P02', 'invalid input syntax');
    let calls = 0;
    await expect(retryStartup('migrating', async () => (calls++, Promise.reject(bad)), { clock, logger: silentLogger(), policy, inspect: t.bus })).rejects.toBe(bad);
    expect(calls).toBe(1);

    const shutdown = new AbortController();
    const run = retryStartup('creating the dead letter topic', async () => Promise.reject(refused()), { clock, logger: silentLogger(), policy, inspect: t.bus, signal: shutdown.signal });
    await simulatedUntil(() => t.records.some((r) => r.to === 'backing-off'), clock, 'backing off', { stepMs: 1, maxMs: 0 });
    shutdown.abort();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('supervision restarts (kind supervision-restart)', () => {
  it('the restart delay and the storm come from the retry policy, and each decision is reported as a retry', async () => {
    const t = telemetry();
    const policy = restartWithBackoff({ backoff: { initialMs: 100, multiplier: 2, maxMs: 10_000, jitter: 0 }, maxRestarts: 2, withinMs: 30_000, inspect: t.bus });
    const crash = new Error('boom');
    const ctx = (restarts: number[]) => ({ path: '/tagstream/shards/shard-1', now: 10_000, restarts });
    expect(policy(undefined, crash, ctx([]))).toEqual({ kind: 'restart', delayMs: 100 });
    expect(policy(undefined, crash, ctx([9_000]))).toEqual({ kind: 'restart', delayMs: 200 });
    expect(policy(undefined, crash, ctx([8_000, 9_000]))).toEqual({ kind: 'escalate' });
    expect(t.ids()).toEqual(['retry:supervision-restart:/tagstream/shards/shard-1']);
    expect(t.records.map((r) => [r.to, (r.context as { attempt: number }).attempt, (r.context as { deadline: number | null }).deadline])).toEqual([
      ['backing-off', 1, 10_100],
      ['backing-off', 2, 10_200],
      ['exhausted', 3, null],
    ]);
    expect(await t.retries()).toEqual({ 'supervision-restart/fatal': 2 });
  });
});

describe("a sink's write and a DLQ re-drive (kinds sink-write, dlq-redrive)", () => {
  it('report under their kinds; shutdown ends their backoffs', async () => {
    const clock = new SimulatedClock(0);
    const t = telemetry();
    let writes = 0;
    const target: SinkTarget<number> = {
      name: 'search',
      coalesce: false,
      prepare: async () => undefined,
      probe: async () => undefined,
      transform: () => ({ kind: 'skip', code: 'x', reason: 'x' }),
      write: async (p) => (++writes === 1 ? Promise.reject(refused()) : p.map(() => ({ status: 'ok' as const }))),
    };
    const breaker = createBreaker(config.breaker, { clock, name: 'search' });
    const res = await onSimulatedTime(writeWithRetry([{ payload: 1 }], { target, breaker, clock, policy: { ...config.retry, jitter: 0 }, inspect: t.bus }), clock, { stepMs: 50 });
    expect(res.outcomes).toEqual([{ kind: 'written' }]);
    breaker.stop();

    const shutdown = new AbortController();
    const down = { cluster: 'pg0', applyBatch: async () => Promise.reject(refused()) } as unknown as ShardStore;
    const redrive = createWritersRedrive({ stores: new Map([['pg0', down]]), clusterOfShard: () => 'pg0', shardCount: 4, limits: config.commands, clock, retry: { ...config.retry, jitter: 0 }, inspect: t.bus });
    const record = { topic: 't', partition: 0, offset: '5', key: 'e1', value: JSON.stringify({ id: 'c1', op: 'attach', entity: 'e1', tag: 'x', actor: 'a', at: 1_700_000_000_000 }), headers: {}, timestamp: 1 };
    const run = redrive.redrive([record], shutdown.signal);
    await simulatedUntil(() => t.records.some((r) => r.machineId.startsWith('retry:dlq-redrive') && r.to === 'backing-off'), clock, 'redrive backing off', { stepMs: 1, maxMs: 0 });
    shutdown.abort();
    expect((await run)[0]).toMatchObject({ kind: 'held' });
    expect(t.ids()).toEqual(['retry:sink-write:search', 'retry:dlq-redrive:writers']);
    expect(t.finals('retry:dlq-redrive:writers')).toEqual(['backing-off', 'aborted']);
    expect(await t.retries()).toEqual({ 'sink-write/retry': 1, 'dlq-redrive/retry': 1 });
  });
});
