// The pool worker's batching on simulated time: full batches go at once, a remainder waits for the window,
// and a window that closes while the mailbox is full (its flush message lost) is flushed by the next message.
import { describe, expect, it } from 'vitest';
import type { SinkItem } from '../../../actors/sink/messages.ts';
import { SinkWorker } from '../../../actors/sink/sink-worker.ts';
import type { SinkTarget } from '../../../actors/sink/target.ts';
import { loadConfig } from '../../../config/index.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { createBreaker } from '../../../machines/index.ts';
import { onSimulatedTime } from '../../support/sim.ts';

const config = loadConfig({ env: {}, overrides: {} });

function setup() {
  const clock = new SimulatedClock(0);
  const writes: number[][] = [];
  const target: SinkTarget<number> = {
    name: 't',
    coalesce: false,
    prepare: async () => undefined,
    probe: async () => undefined,
    transform: () => ({ kind: 'skip', code: 'x', reason: 'x' }),
    write: async (p) => {
      writes.push([...p]);
      return p.map(() => ({ status: 'ok' as const }));
    },
  };
  const done: number[] = [];
  const item = (n: number): SinkItem<number> => ({ record: { topic: 't', partition: 0, offset: String(n), key: null, value: null, headers: {}, timestamp: 0 }, payload: n, live: () => true, done: () => void done.push(n), fail: () => undefined });
  const worker = new SinkWorker<number>({ name: 'w', target, breaker: createBreaker(config.breaker, { clock, name: 't' }), dlq: { send: async () => undefined }, consumer: 'g', clock, logger: silentLogger(), retry: config.retry, batchSize: 4, batchWindowMs: 50, signal: new AbortController().signal });
  const told: string[] = [];
  worker.tellSelf = (m) => void told.push(m.type); // a mailbox that is always full: every tell is lost
  return { clock, worker, writes, done, told, items: (from: number, n: number) => Array.from({ length: n }, (_, i) => item(from + i)) };
}

describe('SinkWorker batching', () => {
  it('writes full batches at once and keeps the remainder for the window', async () => {
    const s = setup();
    await onSimulatedTime(s.worker.receive({ type: 'sink.items', items: s.items(0, 6) }), s.clock, { stepMs: 1, maxMs: 1 });
    expect(s.writes).toEqual([[0, 1, 2, 3]]);
    expect(s.worker.buffered).toBe(2);
    await onSimulatedTime(s.worker.receive({ type: 'sink.items', items: s.items(6, 2) }), s.clock, { stepMs: 1, maxMs: 1 });
    expect(s.writes).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(s.worker.buffered).toBe(0);
  });

  it('flushes a remainder whose window closed while the mailbox was full, at the next message', async () => {
    const s = setup();
    await s.worker.receive({ type: 'sink.items', items: s.items(0, 2) });
    s.clock.increment(50);
    expect(s.told).toEqual(['sink.flush']); // lost
    expect(s.writes).toEqual([]);
    await s.worker.receive({ type: 'sink.items', items: s.items(2, 1) });
    expect(s.writes).toEqual([[0, 1, 2]]);
    expect(s.done).toEqual([0, 1, 2]);
  });

  it('a flush message writes everything buffered', async () => {
    const s = setup();
    await s.worker.receive({ type: 'sink.items', items: s.items(0, 3) });
    await s.worker.receive({ type: 'sink.flush' });
    expect(s.writes).toEqual([[0, 1, 2]]);
  });
});
