// What the contract suite cannot show about the stand-in: fault injection and the refresh interval on the
// simulated clock.
import { describe, expect, it } from 'vitest';
import { MemorySearchIndex } from '../../../../adapters/search/memory-search-index.ts';
import type { TagDoc } from '../../../../adapters/search/port.ts';
import { classify } from '../../../../lib/classify.ts';
import { SimulatedClock } from '../../../../lib/clock.ts';

const doc = (entity: string, attached = true): TagDoc => ({ entity, tag: 'critical', attached, shard: 1, at: 0 });

describe('MemorySearchIndex', () => {
  it('publishes writes exactly one refresh interval after the first unpublished write', async () => {
    const clock = new SimulatedClock(0);
    const index = new MemorySearchIndex({ clock, refreshIntervalMs: 1_000 });
    await index.ensureIndex();
    await index.bulk([{ id: 'a', version: '1', doc: doc('a') }]);
    clock.increment(600);
    await index.bulk([{ id: 'b', version: '1', doc: doc('b') }]);
    clock.increment(399);
    expect((await index.search('critical', { limit: 10 })).total).toBe(0);
    clock.increment(1);
    expect((await index.search('critical', { limit: 10 })).total).toBe(2);
    expect(clock.pending()).toBe(0); // nothing armed while nothing is unpublished
    await index.bulk([{ id: 'a', version: '1', doc: doc('a', false) }]); // stale: nothing to publish
    expect(clock.pending()).toBe(0);
  });

  it('fails every call with a ConnectionError while unavailable, and keeps its data', async () => {
    const index = new MemorySearchIndex({ clock: new SimulatedClock(0), refreshIntervalMs: 1_000 });
    await index.ensureIndex();
    await index.bulk([{ id: 'a', version: '1', doc: doc('a') }]);
    index.setAvailable(false);
    const calls = [() => index.bulk([{ id: 'b', version: '1', doc: doc('b') }]), () => index.search('critical', { limit: 1 }), () => index.get('a'), () => index.refresh(), () => index.ping(), () => index.ensureIndex(), () => index.drop()];
    for (const call of calls) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(classify(err)).toEqual({ class: 'retry', source: 'es:ConnectionError' });
    }
    const scan = index.scan()[Symbol.asyncIterator]();
    await expect(scan.next()).rejects.toMatchObject({ name: 'BackendError', source: 'es:ConnectionError', cause: expect.objectContaining({ name: 'ConnectionError' }) });
    index.setAvailable(true);
    expect((await index.get('a'))?.version).toBe('1');
    expect(await index.get('b')).toBeNull();
  });

  it('keeps what it stores apart from the caller’s objects', async () => {
    const index = new MemorySearchIndex({ clock: new SimulatedClock(0), refreshIntervalMs: 1_000 });
    const d = doc('a');
    await index.bulk([{ id: 'a', version: '1', doc: d }]);
    d.attached = false;
    const got = await index.get('a');
    expect(got?.doc.attached).toBe(true);
    got!.doc.attached = false;
    expect((await index.get('a'))?.doc.attached).toBe(true);
  });
});
