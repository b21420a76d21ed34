import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeProbe } from '../../../adapters/pg/port.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { createMachineActor } from '../../../machines/create-machine-actor.ts';
import { electReplica } from '../../../machines/failover/election.ts';
import { compareLsn, parseLsn } from '../../../machines/failover/lsn.ts';
import { createFailoverMachine, type FailoverEmitted, type FailoverMachineConfig, type FailoverMode } from '../../../machines/failover/machine.ts';
import { PrimaryAnswersError } from '../../../machines/failover/types.ts';
import { probeToEvent } from '../../../machines/failover/probe-event.ts';
import { Effects, flush } from './support/model.ts';

const cfg: FailoverMachineConfig = { probeIntervalMs: 500, probeTimeoutMs: 1_000, suspectAfterMisses: 3, electTimeoutMs: 2_000, promoteTimeoutMs: 5_000, repointTimeoutMs: 4_000, fenceTimeoutMs: 3_000, degradedRetryMs: 10_000 };
const topology = { primary: 'n0', replicas: ['n1', 'n2'], fenced: [] as string[] };
const up = (name: string, receiveLsn: string, replayLsn = '0/0'): NodeProbe => ({ name, up: true, role: 'replica', receiveLsn, replayLsn });

function setup(opts: { mode?: FailoverMode; cfg?: Partial<FailoverMachineConfig> } = {}) {
  const clock = new SimulatedClock(100_000);
  const effects = new Effects();
  const machine = createFailoverMachine({ ...cfg, ...opts.cfg }, { clock }).provide({
    actors: {
      collectLsns: effects.actor('collectLsns') as never,
      promoteReplica: effects.actor('promoteReplica') as never,
      repointReplicas: effects.actor('repointReplicas') as never,
      fenceNode: effects.actor('fenceNode') as never,
      unfenceNode: effects.actor('unfenceNode') as never,
    },
  });
  const input = { cluster: 'pg0', topology, mode: opts.mode ?? 'builtin' };
  const emitted: FailoverEmitted[] = [];
  const start = (snapshot?: unknown) => {
    const actor = createMachineActor(machine, { clock, id: 'failover:pg0', input, ...(snapshot ? { snapshot: snapshot as never } : {}) });
    actor.on('*', (e) => emitted.push(e as FailoverEmitted));
    return actor;
  };
  const actor = start();
  const state = () => actor.getSnapshot().value;
  const settle = async (name: string, outcome: { ok: true; value?: unknown } | { ok: false; error: unknown }) => {
    effects.settle(name, outcome.ok ? { ok: true, value: outcome.value } : outcome);
    await flush();
  };
  return { clock, effects, machine, actor, state, emitted, settle, start, input };
}

describe('failover: detection', () => {
  it('one slow probe is not a failover: a good probe brings it back to healthy', async () => {
    const { actor, state, emitted, effects } = setup();
    actor.send({ type: 'PROBE.TIMEOUT' });
    expect(state()).toBe('suspect');
    actor.send({ type: 'PROBE.TIMEOUT' });
    expect(state()).toBe('suspect');
    actor.send({ type: 'PROBE.OK' });
    expect(state()).toBe('healthy');
    expect(actor.getSnapshot().context.misses).toBe(0);
    expect(emitted.map((e) => e.type)).toEqual(['failover.suspect', 'failover.recovered']);
    expect(effects.calls).toEqual([]);
  });

  it('N timeouts in a row (a hung primary) start the election', async () => {
    const { actor, state, emitted, clock } = setup();
    actor.send({ type: 'PROBE.TIMEOUT' });
    clock.increment(1_500);
    actor.send({ type: 'PROBE.TIMEOUT' });
    clock.increment(1_500);
    actor.send({ type: 'PROBE.TIMEOUT' });
    expect(state()).toBe('electing');
    expect(emitted.at(-1)).toEqual({ type: 'failover.started', cluster: 'pg0', reason: 'timeouts', oldPrimary: 'n0' });
    expect(actor.getSnapshot().context.current).toMatchObject({ detectedAt: 100_000, startedAt: 103_000 });
  });

  it('connection refused (a dead primary) acts at once', () => {
    const { actor, state, emitted } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    expect(state()).toBe('electing');
    expect(emitted.map((e) => e.type)).toEqual(['failover.started']);
  });

  it('a monitor that stops reporting while suspect is no evidence: back to healthy, never a failover', () => {
    // Probes are bounded, so no result at all means this daemon stalled (a starved machine), not the primary.
    const { actor, state, clock, emitted, effects } = setup();
    actor.send({ type: 'PROBE.TIMEOUT' });
    clock.increment(3 * (500 + 1_000) - 1);
    expect(state()).toBe('suspect');
    clock.increment(1);
    expect(state()).toBe('healthy');
    expect(emitted.map((e) => e.type)).toEqual(['failover.suspect', 'failover.unobserved']);
    expect(actor.getSnapshot().context).toMatchObject({ misses: 0, suspectSince: null, current: null });
    expect(effects.pending.size).toBe(0);
    // The next misses count from zero again.
    actor.send({ type: 'PROBE.TIMEOUT' });
    actor.send({ type: 'PROBE.TIMEOUT' });
    expect(state()).toBe('suspect');
  });

  it('probeToEvent: refused vs hung vs up', () => {
    expect(probeToEvent('n0', [{ name: 'n0', up: true }]).type).toBe('PROBE.OK');
    expect(probeToEvent('n0', [{ name: 'n0', up: false, error: 'connect ECONNREFUSED 127.0.0.1:5432' }]).type).toBe('PROBE.REFUSED');
    expect(probeToEvent('n0', [{ name: 'n0', up: false, error: 'timeout exceeded when trying to connect' }]).type).toBe('PROBE.TIMEOUT');
    expect(probeToEvent('n0', []).type).toBe('PROBE.TIMEOUT');
  });
});

describe('failover: election, promotion, repointing, fencing', () => {
  it('promotes the most caught-up replica, repoints the other, fences the old primary', async () => {
    const { actor, state, emitted, effects, settle, clock } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    expect(effects.pending.get('collectLsns')?.input).toEqual({ cluster: 'pg0', nodes: ['n1', 'n2'] });
    clock.increment(200);
    await settle('collectLsns', { ok: true, value: [up('n1', '0/3000000', '0/2000000'), up('n2', '0/3000010', '0/1000000')] });
    expect(state()).toBe('promoting');
    expect(effects.pending.get('promoteReplica')?.input).toEqual({ cluster: 'pg0', node: 'n2', oldPrimary: 'n0' });

    clock.increment(800);
    await settle('promoteReplica', { ok: true });
    expect(state()).toBe('repointing');
    expect(actor.getSnapshot().context.topology).toEqual({ primary: 'n2', replicas: ['n1'], fenced: ['n0'] });
    expect(emitted.find((e) => e.type === 'topology.promoted')).toEqual({ type: 'topology.promoted', cluster: 'pg0', from: 'n0', to: 'n2', topology: { primary: 'n2', replicas: ['n1'], fenced: ['n0'] } });
    expect(effects.pending.get('repointReplicas')?.input).toEqual({ cluster: 'pg0', primary: 'n2', replicas: ['n1'] });

    await settle('repointReplicas', { ok: true });
    expect(state()).toBe('fencing');
    expect(effects.pending.get('fenceNode')?.input).toEqual({ cluster: 'pg0', node: 'n0' });
    clock.increment(100);
    await settle('fenceNode', { ok: true });
    expect(state()).toBe('healthy');
    expect(actor.getSnapshot().context.lastFailover).toEqual({
      cluster: 'pg0', reason: 'refused', from: 'n0', to: 'n2',
      detectedAt: 100_000, startedAt: 100_000, promotedAt: 101_000, completedAt: 101_100, durationMs: 1_100,
      repointed: true, fenceConfirmed: true,
    });
    expect(emitted.map((e) => e.type)).toEqual(['failover.started', 'topology.promoted', 'failover.completed']);
    // Probes now watch the new primary; the old one stays out.
    actor.send({ type: 'PROBE.REFUSED' });
    expect(state()).toBe('electing');
    expect(effects.pending.get('collectLsns')?.input).toEqual({ cluster: 'pg0', nodes: ['n1'] });
  });

  it('elects by receive LSN first, replay LSN on ties, name last', () => {
    const pos = (receive: string | null, replay: string | null) => ({ receive, replay, at: 0 });
    expect(electReplica(['a', 'b'], { a: pos('1/0', '0/5'), b: pos('0/FFFFFFFF', '1/0') })).toBe('a');
    expect(electReplica(['a', 'b'], { a: pos('1/0', '0/5'), b: pos('1/0', '0/6') })).toBe('b');
    expect(electReplica(['b', 'a'], { a: pos('1/0', '0/5'), b: pos('1/0', '0/5') })).toBe('a');
    expect(electReplica(['a', 'b'], { b: pos('0/1', null) })).toBe('b');
    expect(electReplica([], {})).toBeNull();
  });

  it('LSN order is the 64-bit WAL position order', () => {
    const lsn = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const text = (v: bigint) => `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
    fc.assert(
      fc.property(lsn, lsn, (a, b) => {
        expect(parseLsn(text(a))).toBe(a);
        expect(compareLsn(text(a), text(b))).toBe(a === b ? 0 : a < b ? -1 : 1);
      }),
    );
    expect(compareLsn(null, '0/0')).toBe(-1);
    expect(parseLsn('garbage')).toBeNull();
  });

  it('a replica that fails to promote is skipped for the next one', async () => {
    const { state, actor, effects, settle } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    await settle('collectLsns', { ok: true, value: [up('n1', '0/20'), up('n2', '0/10')] });
    expect(effects.pending.get('promoteReplica')?.input).toMatchObject({ node: 'n1' });
    await settle('promoteReplica', { ok: false, error: new Error('pg_promote failed') });
    expect(state()).toBe('promoting');
    expect(effects.pending.get('promoteReplica')?.input).toMatchObject({ node: 'n2' });
    await settle('promoteReplica', { ok: true });
    expect(actor.getSnapshot().context.topology).toEqual({ primary: 'n2', replicas: ['n1'], fenced: ['n0'] });
  });

  it('the old primary answering right before the promotion abandons the failover: no other candidate, topology kept', async () => {
    const { state, actor, effects, settle, emitted } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    await settle('collectLsns', { ok: true, value: [up('n1', '0/20'), up('n2', '0/10')] });
    await settle('promoteReplica', { ok: false, error: new PrimaryAnswersError('n0') });
    expect(state()).toBe('healthy');
    expect(effects.pending.size).toBe(0);
    expect(actor.getSnapshot().context).toMatchObject({ topology, current: null, candidate: null });
    expect(emitted.at(-1)).toEqual({ type: 'failover.abandoned', cluster: 'pg0', primary: 'n0', candidate: 'n1' });
  });

  it('a promotion that times out fences that candidate too (it may still come up as a primary)', async () => {
    const { state, actor, effects, clock } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    effects.settle('collectLsns', { ok: true, value: [up('n1', '0/20'), up('n2', '0/10')] });
    await flush();
    clock.increment(5_000);
    await flush();
    expect(state()).toBe('promoting');
    expect(actor.getSnapshot().context.candidate).toBe('n2');
    expect(actor.getSnapshot().context.topology.fenced).toEqual(['n1']);
  });

  it('no replica left to promote → degraded; the primary coming back → healthy', async () => {
    const { state, actor, emitted, settle } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    await settle('collectLsns', { ok: true, value: [{ name: 'n1', up: false, error: 'ECONNREFUSED' }] });
    expect(state()).toBe('degraded');
    expect(emitted.at(-1)).toEqual({ type: 'failover.degraded', cluster: 'pg0', oldPrimary: 'n0' });
    actor.send({ type: 'PROBE.OK' });
    expect(state()).toBe('healthy');
    expect(actor.getSnapshot().context.topology).toEqual(topology);
  });

  it('degraded retries the election periodically', async () => {
    const { state, actor, settle, clock, effects } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    await settle('collectLsns', { ok: true, value: [] });
    expect(state()).toBe('degraded');
    clock.increment(10_000);
    await flush();
    expect(state()).toBe('electing');
    await settle('collectLsns', { ok: true, value: [up('n1', '0/1')] });
    expect(state()).toBe('promoting');
    expect(effects.pending.get('promoteReplica')?.input).toMatchObject({ node: 'n1' });
  });

  it('an election whose candidates all timed out (a starved machine) tries again after two probe intervals, one that found them refused after the full back-off', async () => {
    const { state, actor, settle, clock } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    await settle('collectLsns', { ok: true, value: [{ name: 'n1', up: false, error: 'timeout expired' }, { name: 'n2', up: false, error: 'Connection terminated due to connection timeout' }] });
    expect(state()).toBe('degraded');
    clock.increment(999);
    expect(state()).toBe('degraded');
    clock.increment(1);
    await flush();
    expect(state()).toBe('electing');
    await settle('collectLsns', { ok: true, value: [{ name: 'n1', up: false, error: 'connect ECONNREFUSED 127.0.0.1:5433' }, { name: 'n2', up: false, error: 'timeout expired' }] });
    expect(state()).toBe('degraded');
    clock.increment(9_999);
    expect(state()).toBe('degraded');
    clock.increment(1);
    await flush();
    expect(state()).toBe('electing');
  });

  it('LSN collection that times out elects from the positions already known from probes', async () => {
    const { state, actor, clock, effects } = setup();
    actor.send({ type: 'PROBE.OK', probes: [{ name: 'n0', up: true }, up('n1', '0/50'), up('n2', '0/40')] });
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    clock.increment(2_000);
    await flush();
    expect(state()).toBe('promoting');
    expect(effects.pending.get('promoteReplica')?.input).toMatchObject({ node: 'n1' });
  });

  it('repoint and fence failures do not undo the promotion; the summary says what was not confirmed', async () => {
    const { state, actor, settle, clock } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    await settle('collectLsns', { ok: true, value: [up('n1', '0/1')] });
    await settle('promoteReplica', { ok: true });
    await settle('repointReplicas', { ok: false, error: new Error('n2 unreachable') });
    expect(state()).toBe('fencing');
    clock.increment(3_000); // fence timeout
    await flush();
    expect(state()).toBe('healthy');
    expect(actor.getSnapshot().context.lastFailover).toMatchObject({ to: 'n1', repointed: false, fenceConfirmed: false });
    expect(actor.getSnapshot().context.topology.fenced).toEqual(['n0']);
  });

  it('a primary that answers during the election is kept: nothing had changed yet', async () => {
    const { state, actor, effects } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    actor.send({ type: 'PROBE.OK' });
    expect(state()).toBe('healthy');
    expect(effects.calls.map((c) => c.name)).toEqual(['collectLsns']);
  });
});

describe('failover: patroni mode', () => {
  it('never promotes on its own; follows the leader Patroni reports', async () => {
    const { state, actor, clock, effects, settle, emitted } = setup({ mode: 'patroni' });
    for (let i = 0; i < 10; i++) actor.send({ type: 'PROBE.TIMEOUT' });
    actor.send({ type: 'PROBE.REFUSED' });
    clock.increment(60_000);
    expect(state()).toBe('suspect');
    expect(effects.calls).toEqual([]);
    actor.send({ type: 'LEADER.CHANGED', leader: 'n0' }); // not a change
    expect(state()).toBe('suspect');
    actor.send({ type: 'LEADER.CHANGED', leader: 'n2' });
    expect(state()).toBe('fencing');
    expect(actor.getSnapshot().context.topology).toEqual({ primary: 'n2', replicas: ['n1'], fenced: ['n0'] });
    await flush();
    await settle('fenceNode', { ok: true });
    expect(state()).toBe('healthy');
    expect(actor.getSnapshot().context.lastFailover).toMatchObject({ reason: 'leader-changed', from: 'n0', to: 'n2', detectedAt: 100_000 });
    expect(emitted.map((e) => e.type)).toEqual(['failover.suspect', 'topology.promoted', 'failover.completed']);
    expect(effects.calls.map((c) => c.name)).toEqual(['fenceNode']);
  });

  it('a switchover back to a fenced node takes it out of the fenced list', async () => {
    const { actor, settle } = setup({ mode: 'patroni' });
    actor.send({ type: 'LEADER.CHANGED', leader: 'n1' });
    await flush();
    await settle('fenceNode', { ok: true });
    actor.send({ type: 'LEADER.CHANGED', leader: 'n0' });
    expect(actor.getSnapshot().context.topology).toEqual({ primary: 'n0', replicas: ['n2'], fenced: ['n1'] });
  });
});

describe('failover: planned switchover', () => {
  it('fences the primary first, promotes the most caught-up replica once it caught up, and ends like a failover', async () => {
    const { state, actor, effects, settle, emitted, clock } = setup();
    actor.send({ type: 'SWITCHOVER' });
    expect(state()).toBe('electing');
    await flush();
    // The collect effect is told to fence n0 and wait for a candidate to catch up with it.
    expect(effects.pending.get('collectLsns')?.input).toEqual({ cluster: 'pg0', nodes: ['n1', 'n2'], switchoverFrom: 'n0' });
    // The fenced primary still answers its probes: that must not cancel the switchover.
    actor.send({ type: 'PROBE.OK', probes: [{ name: 'n0', up: true, role: 'primary' }] });
    expect(state()).toBe('electing');
    clock.increment(300);
    await settle('collectLsns', { ok: true, value: [up('n1', '0/900', '0/900'), up('n2', '0/800', '0/800')] });
    expect(effects.pending.get('promoteReplica')?.input).toEqual({ cluster: 'pg0', node: 'n1', oldPrimary: 'n0' });
    await settle('promoteReplica', { ok: true });
    await settle('repointReplicas', { ok: true });
    await settle('fenceNode', { ok: true });
    expect(state()).toBe('healthy');
    expect(actor.getSnapshot().context.topology).toEqual({ primary: 'n1', replicas: ['n2'], fenced: ['n0'] });
    expect(actor.getSnapshot().context.lastFailover).toMatchObject({ reason: 'switchover', from: 'n0', to: 'n1', detectedAt: 100_000, durationMs: 300 });
    expect(emitted.map((e) => e.type)).toEqual(['failover.started', 'topology.promoted', 'failover.completed']);
    expect(emitted[0]).toEqual({ type: 'failover.started', cluster: 'pg0', reason: 'switchover', oldPrimary: 'n0' });
  });

  it('a named target is the only candidate, even when another replica is further ahead', async () => {
    const { actor, effects, settle } = setup();
    actor.send({ type: 'SWITCHOVER', target: 'n2' });
    await flush();
    expect(effects.pending.get('collectLsns')?.input).toEqual({ cluster: 'pg0', nodes: ['n2'], switchoverFrom: 'n0' });
    await settle('collectLsns', { ok: true, value: [up('n2', '0/10')] });
    expect(effects.pending.get('promoteReplica')?.input).toMatchObject({ node: 'n2' });
  });

  it('is refused (nothing happens) for an unknown target, outside healthy, and in patroni mode', async () => {
    const a = setup();
    a.actor.send({ type: 'SWITCHOVER', target: 'n0' });
    a.actor.send({ type: 'SWITCHOVER', target: 'n9' });
    expect(a.state()).toBe('healthy');
    a.actor.send({ type: 'PROBE.TIMEOUT' });
    a.actor.send({ type: 'SWITCHOVER' });
    expect(a.state()).toBe('suspect');
    expect(a.effects.calls).toEqual([]);
    const b = setup({ mode: 'patroni' });
    b.actor.send({ type: 'SWITCHOVER' });
    expect(b.state()).toBe('healthy');
    expect(b.emitted).toEqual([]);
  });

  it('a replica that cannot catch up (or a fence that fails) is never forced: the old primary is unfenced and kept', async () => {
    const { state, actor, effects, settle, emitted } = setup();
    actor.send({ type: 'SWITCHOVER' });
    await flush();
    await settle('collectLsns', { ok: false, error: new Error('no candidate caught up within 10 s') });
    expect(state()).toBe('unfencing');
    expect(effects.pending.get('unfenceNode')?.input).toEqual({ cluster: 'pg0', node: 'n0' });
    await settle('unfenceNode', { ok: true });
    expect(state()).toBe('healthy');
    expect(actor.getSnapshot().context).toMatchObject({ topology, current: null, lastFailover: null });
    expect(emitted.at(-1)).toEqual({ type: 'failover.aborted', cluster: 'pg0', oldPrimary: 'n0', restored: true });
    expect(effects.calls.map((c) => c.name)).toEqual(['collectLsns', 'unfenceNode']);
  });

  it('a target that fails to promote aborts the switchover; an unfence that fails is reported', async () => {
    const { state, actor, settle, emitted, clock } = setup();
    actor.send({ type: 'SWITCHOVER', target: 'n1' });
    await flush();
    await settle('collectLsns', { ok: true, value: [up('n1', '0/10')] });
    await settle('promoteReplica', { ok: false, error: new Error('pg_promote failed') });
    expect(state()).toBe('unfencing');
    clock.increment(3_000);
    await flush();
    expect(state()).toBe('healthy');
    expect(emitted.at(-1)).toEqual({ type: 'failover.aborted', cluster: 'pg0', oldPrimary: 'n0', restored: false });
    expect(actor.getSnapshot().context.topology.primary).toBe('n0');
  });
});

describe('failover: restored from a snapshot', () => {
  it('a restored suspect machine still times out at the original deadline', async () => {
    const { actor, clock, start } = setup();
    actor.send({ type: 'PROBE.TIMEOUT' });
    const deadline = actor.getSnapshot().context.deadline!;
    clock.increment(2_000);
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
    actor.stop();
    const restored = start(persisted);
    clock.set(deadline - 1);
    expect(restored.getSnapshot().value).toBe('suspect');
    clock.set(deadline);
    expect(restored.getSnapshot().value).toBe('healthy');
  });

  it('a restored promoting machine re-requests the promotion and keeps its deadline', async () => {
    const { actor, clock, start, effects } = setup();
    actor.send({ type: 'PROBE.REFUSED' });
    await flush();
    effects.settle('collectLsns', { ok: true, value: [up('n1', '0/2'), up('n2', '0/1')] });
    await flush();
    const deadline = actor.getSnapshot().context.deadline!;
    clock.increment(1_000);
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
    actor.stop();
    effects.calls.length = 0;
    const restored = start(persisted);
    await flush();
    expect(effects.calls).toEqual([{ name: 'promoteReplica', input: { cluster: 'pg0', node: 'n1', oldPrimary: 'n0' } }]);
    clock.set(deadline - 1);
    expect(restored.getSnapshot().value).toBe('promoting');
    clock.set(deadline);
    await flush();
    expect(restored.getSnapshot().context.excluded).toEqual(['n1']);
  });
});
