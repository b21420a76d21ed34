// The sink's write step on simulated time: item-level retries with backoff, poison straight out, a 429 retried
// (not dead-lettered), whole-request failures held for the breaker, bisection of a whole-request poison answer.
import { describe, expect, it } from 'vitest';
import { toSearchError } from '../../../adapters/search/errors.ts';
import { ItemError, type ItemResult, type SinkTarget } from '../../../actors/sink/target.ts';
import { writeWithRetry, type WriteDeps } from '../../../actors/sink/write-with-retry.ts';
import { loadConfig } from '../../../config/index.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { createBreaker } from '../../../machines/index.ts';
import { onSimulatedTime } from '../../support/sim.ts';

const config = loadConfig({ env: {}, overrides: {} });
const policy = { retries: 3, initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 };

type Step = (payloads: string[], call: number) => ItemResult[] | Error;

function target(step: Step): SinkTarget<string> & { calls: Array<{ at: number; payloads: string[] }>; clock: SimulatedClock } {
  const clock = new SimulatedClock(1_000);
  const calls: Array<{ at: number; payloads: string[] }> = [];
  return {
    name: 'test',
    coalesce: false,
    clock,
    calls,
    prepare: async () => undefined,
    probe: async () => undefined,
    transform: () => ({ kind: 'skip', code: 'x', reason: 'unused' }),
    async write(payloads) {
      calls.push({ at: clock.now(), payloads: [...payloads] });
      const r = step(payloads, calls.length);
      if (r instanceof Error) throw r;
      return r;
    },
  };
}

function deps(t: ReturnType<typeof target>, breakerCfg = config.breaker): WriteDeps<string> {
  return { target: t, breaker: createBreaker(breakerCfg, { clock: t.clock, name: 'test' }), clock: t.clock, policy };
}

const ok: ItemResult = { status: 'ok' };
const tooMany = (): ItemResult => ({ status: 'error', error: new ItemError(429, 'es_rejected_execution_exception', 'rejected execution of coordinating operation') });
const badDoc = (): ItemResult => ({ status: 'error', error: new ItemError(400, 'document_parsing_exception', 'failed to parse field [entity.num]') });
// As the search index's boundary raises them (classified there).
const refused = () => toSearchError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9200'), { name: 'ConnectionError' }));

describe('writeWithRetry', () => {
  it('retries only the items that failed transiently (a 429 is retried, not dead-lettered), with exponential backoff', async () => {
    const t = target((p, call) => p.map((x) => (x === 'b' && call < 3 ? tooMany() : ok)));
    const { outcomes, fatal } = await onSimulatedTime(writeWithRetry(['a', 'b', 'c'].map((payload) => ({ payload })), deps(t)), t.clock);
    expect(fatal).toBeUndefined();
    expect(outcomes.map((o) => o.kind)).toEqual(['written', 'written', 'written']);
    expect(t.calls.map((c) => c.payloads)).toEqual([['a', 'b', 'c'], ['b'], ['b']]);
    expect(t.calls.map((c) => c.at - 1_000)).toEqual([0, 100, 300]);
  });

  it('dead-letters an item still failing after 3 retries, with its attempt count and failure times', async () => {
    const t = target((p) => p.map((x) => (x === 'b' ? tooMany() : ok)));
    const { outcomes } = await onSimulatedTime(writeWithRetry(['a', 'b'].map((payload) => ({ payload })), deps(t)), t.clock);
    expect(outcomes[0]).toEqual({ kind: 'written' });
    expect(outcomes[1]).toEqual({ kind: 'failed', errorClass: 'retry', code: 'TS_ERR_RETRIES_EXHAUSTED', message: 'es_rejected_execution_exception: rejected execution of coordinating operation', attempts: 4, firstFailureAt: 1_000, lastFailureAt: 1_700 });
    expect(t.calls).toHaveLength(4);
  });

  it('sends a poison item straight to the dead letter outcome, without retrying it', async () => {
    const t = target((p) => p.map((x) => (x === 'bad' ? badDoc() : ok)));
    const { outcomes } = await onSimulatedTime(writeWithRetry(['a', 'bad', 'c'].map((payload) => ({ payload })), deps(t)), t.clock);
    expect(outcomes.map((o) => o.kind)).toEqual(['written', 'failed', 'written']);
    expect(outcomes[1]).toMatchObject({ errorClass: 'poison', code: 'document_parsing_exception', attempts: 1 });
    expect(t.calls).toHaveLength(1);
  });

  it('holds every item when the whole request keeps failing (dependency down): no dead letters', async () => {
    const t = target(() => refused());
    const { outcomes, fatal } = await onSimulatedTime(writeWithRetry(['a', 'b'].map((payload) => ({ payload })), deps(t)), t.clock);
    expect(fatal).toBeUndefined();
    expect(outcomes.map((o) => o.kind)).toEqual(['held', 'held']);
    expect(t.calls).toHaveLength(4);
  });

  it('stops at once without burning retries when the breaker is open', async () => {
    const t = target(() => refused());
    const d = deps(t, { ...config.breaker, minimumCalls: 2, windowSize: 2 });
    // Two failed writes trip the breaker…
    await onSimulatedTime(writeWithRetry([{ payload: 'x' }], { ...d, policy: { ...policy, retries: 1 } }), t.clock);
    expect(d.breaker.state()).toBe('open');
    const before = t.calls.length;
    const { outcomes } = await onSimulatedTime(writeWithRetry([{ payload: 'y' }], d), t.clock, { stepMs: 1 });
    expect(outcomes).toEqual([{ kind: 'held', reason: 'breaker test is open' }]);
    expect(t.calls.length).toBe(before);
  });

  it('bisects a request refused as a whole (e.g. 413) down to the item that causes it', async () => {
    const tooLarge = toSearchError(Object.assign(new Error('request entity too large'), { name: 'ResponseError', meta: { statusCode: 413 } }));
    const t = target((p) => (p.includes('huge') ? tooLarge : p.map(() => ok)));
    const { outcomes } = await onSimulatedTime(writeWithRetry(['a', 'b', 'huge', 'd', 'e'].map((payload) => ({ payload })), deps(t)), t.clock);
    expect(outcomes.map((o) => o.kind)).toEqual(['written', 'written', 'failed', 'written', 'written']);
    expect(outcomes[2]).toMatchObject({ errorClass: 'poison' });
  });

  it('drops entries that stopped being live (their consumer rewound) instead of writing them', async () => {
    let live = true;
    const t = target((p, call) => {
      if (call === 1) live = false;
      return p.map(() => tooMany());
    });
    const { outcomes } = await onSimulatedTime(writeWithRetry([{ payload: 'a', live: () => live }], deps(t)), t.clock);
    expect(outcomes).toEqual([{ kind: 'dropped' }]);
    expect(t.calls).toHaveLength(1);
  });

  it('reports an unknown whole-request error as fatal (the worker crashes and is restarted)', async () => {
    const t = target(() => new TypeError('cannot read properties of undefined'));
    const { outcomes, fatal } = await onSimulatedTime(writeWithRetry([{ payload: 'a' }], deps(t)), t.clock);
    expect(outcomes.map((o) => o.kind)).toEqual(['held']);
    expect(fatal).toBeInstanceOf(TypeError);
    expect(t.calls).toHaveLength(1);
  });
});
