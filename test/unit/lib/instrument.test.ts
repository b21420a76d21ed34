// The instrumenting proxy times async methods, leaves sync ones alone, and is invisible to the adapter:
// private fields, `this`, instanceof and thrown errors behave as on the real object.
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../lib/clock.ts';
import { instrumentPort } from '../../../lib/instrument.ts';

class Store {
  #calls = 0;
  constructor(private readonly clock: SimulatedClock) {}
  async get(ms: number): Promise<number> {
    this.clock.increment(ms);
    return ++this.#calls;
  }
  async fail(): Promise<never> {
    this.clock.increment(3);
    throw new Error('ECONNREFUSED');
  }
  topology(): { primary: string } {
    return { primary: `n${this.#calls}` };
  }
}

describe('instrumentPort', () => {
  it('observes each async call with its duration and outcome; sync methods and instanceof pass through', async () => {
    const clock = new SimulatedClock(0);
    const seen: Array<[string, string, number]> = [];
    const store = instrumentPort(new Store(clock), { backend: 'postgres', target: 'pg0', clock, observe: (l, s) => seen.push([l.op, l.outcome, s]) });
    expect(store).toBeInstanceOf(Store);
    expect(await store.get(7)).toBe(1);
    await expect(store.fail()).rejects.toThrow('ECONNREFUSED');
    expect(store.topology()).toEqual({ primary: 'n1' });
    await Promise.resolve();
    expect(seen).toEqual([
      ['get', 'ok', 0.007],
      ['fail', 'error', 0.003],
    ]);
    expect(store.get).toBe(store.get); // wrapped once, not per access
  });
});
