// MgetCoalescer: the MGETs of one event-loop turn go out as one command of distinct keys, and each caller gets
// its own answer; a failure reaches every caller of the command; a turn past maxKeys is split.
import { describe, expect, it } from 'vitest';
import { MgetCoalescer } from '../../../../adapters/redis/mget-coalescer.ts';

function fakeRedis(data: Record<string, string>) {
  const sent: string[][] = [];
  let fail: Error | null = null;
  const send = async (keys: string[]) => {
    sent.push(keys);
    if (fail) throw fail;
    return keys.map((k) => data[k] ?? null);
  };
  return { sent, send, failWith: (e: Error | null) => (fail = e) };
}

describe('MgetCoalescer', () => {
  it('one command per turn, each distinct key once; every caller answered in its own key order', async () => {
    const r = fakeRedis({ epoch: 'e1', a: '1', b: '2' });
    const c = new MgetCoalescer(r.send);
    const answers = await Promise.all([c.mget(['epoch', 'a', 'fa']), c.mget(['epoch', 'b', 'fb']), c.mget(['epoch', 'a', 'a'])]);
    expect(answers).toEqual([
      ['e1', '1', null],
      ['e1', '2', null],
      ['e1', '1', '1'],
    ]);
    expect(r.sent).toEqual([['epoch', 'a', 'fa', 'b', 'fb']]);
    expect({ commands: c.commands, calls: c.calls }).toEqual({ commands: 1, calls: 3 });
  });

  it('a call of a later turn is a command of its own; a lone call is sent as asked', async () => {
    const r = fakeRedis({ a: '1' });
    const c = new MgetCoalescer(r.send);
    expect(await c.mget(['a', 'a'])).toEqual(['1', '1']);
    expect(await c.mget(['b'])).toEqual([null]);
    expect(r.sent).toEqual([['a', 'a'], ['b']]);
  });

  it('a failed command rejects every caller in it with its error', async () => {
    const r = fakeRedis({});
    const c = new MgetCoalescer(r.send);
    const boom = new Error('Connection is closed.');
    r.failWith(boom);
    const outcomes = await Promise.allSettled([c.mget(['a']), c.mget(['b']), c.mget(['a', 'c'])]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : o.value))).toEqual([boom, boom, boom]);
    expect(r.sent).toHaveLength(1);
    r.failWith(null);
    expect(await c.mget(['a'])).toEqual([null]);
  });

  it('a turn asking for more than maxKeys goes out as several commands, none over the limit', async () => {
    const r = fakeRedis({ k0: '0', k9: '9' });
    const c = new MgetCoalescer(r.send, 4);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => c.mget([`k${i}`, 'shared'])));
    expect(answers.map((a) => a[0])).toEqual(['0', null, null, null, null, null, null, null, null, '9']);
    expect(answers.every((a) => a[1] === null)).toBe(true);
    expect(r.sent.length).toBe(5);
    for (const keys of r.sent) expect(keys.length).toBeLessThanOrEqual(4);
  });
});
