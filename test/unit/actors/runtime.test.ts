import { describe, expect, it, vi } from 'vitest';
import { isolateChild, restartWithBackoff } from '../../../actors/runtime/policy.ts';
import { ActorSystem, type LifecycleEvent } from '../../../actors/runtime/system.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

type Msg = { type: 'add'; n: number } | { type: 'boom' } | { type: 'slow'; release: Promise<void> };

function setup() {
  const clock = new SimulatedClock(0);
  const fatal: string[] = [];
  const system = new ActorSystem({ clock, logger: silentLogger(), onFatal: (p) => fatal.push(p) });
  const events: LifecycleEvent[] = [];
  system.onLifecycle((e) => events.push(e));
  return { clock, system, events, fatal };
}

function counter(name: string, seen: number[], dropped: Msg[], opts: { maxRestarts?: number; capacity?: number } = {}) {
  return {
    name,
    kind: 'counter',
    init: () => 0,
    mailboxCapacity: opts.capacity ?? 100,
    policy: restartWithBackoff({ backoff: { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 }, maxRestarts: opts.maxRestarts ?? 3, withinMs: 60_000 }),
    onDropped: (m: Msg) => dropped.push(m),
    receive: async (state: number, msg: Msg) => {
      if (msg.type === 'boom') throw new Error('boom');
      if (msg.type === 'slow') await msg.release;
      if (msg.type === 'add') {
        seen.push(state + msg.n);
        return state + msg.n;
      }
      return state;
    },
  };
}

describe('ActorSystem', () => {
  it('two systems of one name in a process (two daemons, as the chaos tests run them) each keep their own messages', async () => {
    const a = new ActorSystem({ clock: new SimulatedClock(0), logger: silentLogger(), name: 'tagstream' });
    const b = new ActorSystem({ clock: new SimulatedClock(0), logger: silentLogger(), name: 'tagstream' });
    const seenA: number[] = [];
    const seenB: number[] = [];
    const ha = a.spawn(counter('c', seenA, []));
    const hb = b.spawn(counter('c', seenB, [])); // the same path in the other system
    ha.tell({ type: 'add', n: 1 });
    hb.tell({ type: 'add', n: 10 });
    await vi.waitFor(() => expect(seenA.length + seenB.length).toBe(2));
    expect(seenA).toEqual([1]);
    expect(seenB).toEqual([10]);
    b.shutdown(); // the other daemon stops: this one's actors keep taking messages
    ha.tell({ type: 'add', n: 2 });
    await vi.waitFor(() => expect(seenA).toEqual([1, 3]));
    a.shutdown();
  });

  it('restarts a crashed actor after its backoff, with its initial state, and reports the dropped message', async () => {
    const { clock, system, events } = setup();
    const seen: number[] = [];
    const dropped: Msg[] = [];
    const a = system.spawn(counter('a', seen, dropped));
    a.tell({ type: 'add', n: 5 });
    a.tell({ type: 'boom' });
    a.tell({ type: 'add', n: 1 });
    await vi.waitFor(() => expect(a.info().status).toBe('restarting'));
    expect(seen).toEqual([5]);
    expect(dropped).toEqual([{ type: 'boom' }]);
    clock.increment(99);
    await Promise.resolve();
    expect(a.info().status).toBe('restarting');
    clock.increment(1);
    await vi.waitFor(() => expect(seen).toEqual([5, 1])); // state reset to 0, then +1
    expect(events.map((e) => e.type)).toEqual(['actor.spawned', 'actor.crashed', 'actor.restarted']);
    expect(a.info().restarts).toBe(1);
    system.shutdown();
  });

  it('a restart storm escalates to the supervisor, which parks the child; its sibling never stops', async () => {
    const { clock, system, events } = setup();
    const sup = system.spawn({ name: 'shards', kind: 'supervisor', init: () => null, receive: (s) => s, childPolicy: isolateChild({ coolDownMs: 30_000, maxEscalations: 1, withinMs: 600_000 }) });
    const seenA: number[] = [];
    const seenB: number[] = [];
    const a = system.spawn(counter('a', seenA, [], { maxRestarts: 1 }), sup);
    const b = system.spawn(counter('b', seenB, []), sup);
    a.tell({ type: 'boom' });
    await vi.waitFor(() => expect(a.info().status).toBe('restarting'));
    clock.increment(100);
    await vi.waitFor(() => expect(a.info().status).toBe('running'));
    a.tell({ type: 'boom' }); // second crash within the window: over the intensity of 1
    await vi.waitFor(() => expect(a.info().status).toBe('parked'));
    expect(events.some((e) => e.type === 'actor.escalated' && e.path === '/shards/a' && e.decision === 'restart')).toBe(true);
    b.tell({ type: 'add', n: 7 });
    await vi.waitFor(() => expect(seenB).toEqual([7]));
    clock.increment(30_000);
    await vi.waitFor(() => expect(a.info().status).toBe('running'));
    a.tell({ type: 'add', n: 2 });
    await vi.waitFor(() => expect(seenA).toEqual([2]));
    // A second storm exhausts the supervisor's patience: a is stopped, b carries on.
    a.tell({ type: 'boom' });
    await vi.waitFor(() => expect(a.info().status).toBe('restarting'));
    clock.increment(100);
    await vi.waitFor(() => expect(a.info().status).toBe('running'));
    a.tell({ type: 'boom' });
    await vi.waitFor(() => expect(a.info().status).toBe('stopped'));
    b.tell({ type: 'add', n: 1 });
    await vi.waitFor(() => expect(seenB).toEqual([7, 8]));
    system.shutdown();
  });

  it('counts and reports every message sent to a stopped actor', async () => {
    const { system, events } = setup();
    const a = system.spawn(counter('a', [], []));
    a.stop();
    expect(a.tell({ type: 'add', n: 1 })).toBe(false);
    await expect(a.send({ type: 'add', n: 1 })).rejects.toMatchObject({ code: 'TS_ERR_ACTOR_STOPPED' });
    expect(system.deadLetters).toBe(2);
    expect(events.filter((e) => e.type === 'actor.dead-letter')).toHaveLength(2);
    system.shutdown();
  });

  it('a full mailbox applies backpressure instead of growing', async () => {
    const { system } = setup();
    const seen: number[] = [];
    const a = system.spawn(counter('a', seen, [], { capacity: 2 }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    a.tell({ type: 'slow', release: gate });
    await vi.waitFor(() => expect(a.info().mailboxDepth).toBe(0)); // being processed
    expect(a.tell({ type: 'add', n: 1 })).toBe(true);
    expect(a.tell({ type: 'add', n: 1 })).toBe(true);
    expect(a.tell({ type: 'add', n: 1 })).toBe(false); // full
    let sent = false;
    const p = a.send({ type: 'add', n: 1 }).then(() => (sent = true));
    await Promise.resolve();
    expect(sent).toBe(false);
    release();
    await p;
    await vi.waitFor(() => expect(seen).toEqual([1, 2, 3]));
    system.shutdown();
  });

  it('a storm under a supervisor with no child policy is fatal for the daemon', async () => {
    const { system, fatal } = setup();
    const a = system.spawn(counter('a', [], [], { maxRestarts: 0 }));
    a.tell({ type: 'boom' });
    await vi.waitFor(() => expect(fatal).toEqual(['/a']));
    expect(a.info().status).toBe('stopped');
    system.shutdown();
  });

  it('shutdown ends a pending restart backoff at once', async () => {
    const { system } = setup();
    const dropped: Msg[] = [];
    const a = system.spawn(counter('a', [], dropped));
    a.tell({ type: 'boom' });
    a.tell({ type: 'add', n: 1 });
    await vi.waitFor(() => expect(a.info().status).toBe('restarting'));
    system.shutdown();
    await vi.waitFor(() => expect(dropped.map((m) => m.type)).toEqual(['boom', 'add']));
  });
});
