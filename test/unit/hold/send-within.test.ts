// sendWithin (the ingest's and the re-feeder's bounded wait for a writer's mailbox space), on simulated time.
import { describe, expect, it } from 'vitest';
import { sendWithin } from '../../../actors/hold/send-within.ts';
import type { ActorHandle } from '../../../actors/runtime/system.ts';
import type { ShardWriterMsg } from '../../../actors/shard-writer/messages.ts';
import { SimulatedClock } from '../../../lib/clock.ts';

const MSG: ShardWriterMsg = { type: 'shard.write', items: [] };
const abortError = () => Object.assign(new Error('aborted'), { name: 'AbortError' });

/** A writer whose mailbox frees up when `free()` is called; until then send waits (or rejects on its signal). */
function writer() {
  let free: (() => void) | undefined;
  const handle = {
    send: (_m: ShardWriterMsg, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        free = resolve;
        signal?.addEventListener('abort', () => reject(abortError()));
      }),
  } as unknown as ActorHandle<ShardWriterMsg>;
  return { handle, free: () => free?.() };
}

describe('sendWithin', () => {
  it('true when the writer takes the message before the bound', async () => {
    const clock = new SimulatedClock(0);
    const w = writer();
    const p = sendWithin(w.handle, MSG, 1_000, clock, new AbortController().signal);
    clock.increment(999);
    w.free();
    await expect(p).resolves.toBe(true);
  });

  it('false once the bound passes with the mailbox still full', async () => {
    const clock = new SimulatedClock(0);
    const w = writer();
    const p = sendWithin(w.handle, MSG, 1_000, clock, new AbortController().signal);
    clock.increment(1_000);
    await expect(p).resolves.toBe(false);
  });

  it('a shutdown (the caller signal) is thrown, not reported as a timeout', async () => {
    const clock = new SimulatedClock(0);
    const w = writer();
    const stop = new AbortController();
    const p = sendWithin(w.handle, MSG, 1_000, clock, stop.signal);
    stop.abort();
    await expect(p).rejects.toThrow('aborted');
  });

  it('any other failure of the send is thrown', async () => {
    const clock = new SimulatedClock(0);
    const failing = { send: async () => Promise.reject(new Error('actor stopped')) } as unknown as ActorHandle<ShardWriterMsg>;
    await expect(sendWithin(failing, MSG, 1_000, clock, new AbortController().signal)).rejects.toThrow('actor stopped');
  });
});
