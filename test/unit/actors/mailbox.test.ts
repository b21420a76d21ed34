import { describe, expect, it } from 'vitest';
import { MailboxGate } from '../../../actors/runtime/mailbox.ts';

describe('MailboxGate (weighted)', () => {
  it('bounds the total weight, not the number of messages', () => {
    const g = new MailboxGate(10);
    expect(g.tryAcquire(6)).toBe(true);
    expect(g.tryAcquire(5)).toBe(false); // 11 > 10
    expect(g.tryAcquire(4)).toBe(true);
    expect(g.depth).toBe(10);
    g.release(6);
    expect(g.depth).toBe(4);
  });

  it('admits a message heavier than the capacity into an empty mailbox (no deadlock)', () => {
    const g = new MailboxGate(10);
    expect(g.tryAcquire(50)).toBe(true);
    expect(g.tryAcquire(1)).toBe(false);
    g.release(50);
    expect(g.tryAcquire(1)).toBe(true);
  });

  it('waiting senders are granted in order as weight is released', async () => {
    const g = new MailboxGate(10);
    g.tryAcquire(8);
    const order: string[] = [];
    const a = g.acquire(undefined, 5).then(() => order.push('a'));
    const b = g.acquire(undefined, 1).then(() => order.push('b'));
    g.release(3); // 5 queued: a (5) fits, b (1) does not (11 > 10) and waits its turn
    await a;
    expect(order).toEqual(['a']);
    g.release(5);
    await b;
    expect(order).toEqual(['a', 'b']);
    expect(g.depth).toBe(6);
  });
});
