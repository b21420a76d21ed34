import { describe, expect, it } from 'vitest';
import { LastKnownGood } from '../../../features/reads/last-known-good.ts';

const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ tag: `t${i}`, count: 100 - i }));

describe('LastKnownGood', () => {
  it('answers a limit from its own copy or a longer list, newest first, and stays bounded', () => {
    const lkg = new LastKnownGood(2);
    expect(lkg.get(5)).toBeUndefined();
    lkg.set(10, { tags: tags(10), at: 1 });
    expect(lkg.get(3)).toEqual({ tags: tags(3), at: 1 });
    lkg.set(3, { tags: tags(3), at: 5 });
    expect(lkg.get(3)!.at).toBe(5);
    // A full shorter list is only a fallback for a longer request.
    expect(lkg.get(8)).toEqual({ tags: tags(8), at: 1 });
    lkg.set(20, { tags: tags(4), at: 7 }); // evicts limit 10 (capacity 2)
    expect(lkg.size).toBe(2);
    expect(lkg.get(8)).toEqual({ tags: tags(4), at: 7 }); // a complete list (fewer tags than its limit)
  });

  it('ignores an older answer that finished late', () => {
    const lkg = new LastKnownGood(4);
    lkg.set(5, { tags: tags(5), at: 10 });
    lkg.set(5, { tags: tags(1), at: 9 });
    expect(lkg.get(5)!.tags).toHaveLength(5);
  });
});
