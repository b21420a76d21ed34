// The binding declares two shapes nact's own typings get wrong (actors/runtime/nact-binding.ts): start() takes
// `{ name }`, and a crash handler's mailbox holds `{ message, sender }` envelopes. If nact changes either, these
// fail instead of the runtime silently losing its system name or handing envelopes to onDropped.
import { describe, expect, it, vi } from 'vitest';
import { dispatch, spawnActor, startSystem, stop, type Crash } from '../../../actors/runtime/nact-binding.ts';

describe('nact binding', () => {
  it('start({ name }) names the system', () => {
    const system = startSystem('binding-named');
    try {
      expect(system).toMatchObject({ system: { name: 'binding-named' } });
    } finally {
      stop(system);
    }
  });

  it('a crash hands over the failing message and the queued ones, unwrapped; reset restarts with the initial state', async () => {
    const system = startSystem('binding-crash');
    const seen: Array<{ state: number; msg: string }> = [];
    const crashes: Array<Crash<string>> = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    try {
      const ref = spawnActor<number, string>(system, 'a', {
        init: () => 0,
        receive: async (state, msg) => {
          seen.push({ state, msg });
          if (msg === 'hold') await held;
          if (msg === 'boom') throw new Error('boom');
          return state + 1;
        },
        onCrash: (crash) => {
          crashes.push(crash);
          return 'reset';
        },
      });
      dispatch(ref, 'hold');
      dispatch(ref, 'boom');
      dispatch(ref, 'q1');
      dispatch(ref, 'q2');
      release();
      await vi.waitFor(() => expect(crashes).toHaveLength(1));
      expect(crashes[0]!.msg).toBe('boom');
      expect(crashes[0]!.err).toMatchObject({ message: 'boom' });
      expect(crashes[0]!.queued).toEqual(['q1', 'q2']);
      await vi.waitFor(() => expect(seen.map((s) => s.msg)).toEqual(['hold', 'boom', 'q1', 'q2']));
      expect(seen.find((s) => s.msg === 'q1')!.state).toBe(0); // reset: back to init()
    } finally {
      stop(system);
    }
  });
});
