// The failover leader (actors/leader): who leads is the group's answer, but a member acts only under the latest
// term of the control log and only while the group confirms it; the sticky choice of the Kafka assigner.
import { describe, expect, it, vi } from 'vitest';
import type { LeaderElection, Leadership } from '../../../adapters/kafka/leader-election-port.ts';
import { chooseLeader } from '../../../adapters/kafka/kafka-leader-election.ts';
import { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import { ControlLog } from '../../../actors/leader/control-log.ts';
import { Leader } from '../../../actors/leader/leader.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

/** An election the test drives: grant/revoke the partition, let the lease lapse. */
class FakeElection implements LeaderElection {
  readonly sessionTimeoutMs = 6_000;
  readonly topic = 'ctl';
  fresh = true;
  private state: Leadership;
  private readonly listeners = new Set<(l: Leadership) => void>();
  constructor(id: string) {
    this.state = { leader: false, daemonId: id, memberId: id, joins: 0, since: 0 };
  }
  async prepare() {}
  join() {}
  set(leader: boolean) {
    this.state = { ...this.state, leader, joins: this.state.joins + 1 };
    for (const l of this.listeners) l(this.state);
  }
  leadership() {
    return { ...this.state };
  }
  leadsNow() {
    return this.state.leader && this.fresh;
  }
  leaseExpired() {
    return !this.fresh;
  }
  onChange(l: (x: Leadership) => void) {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }
  async stop() {}
}

async function member(log: MemoryCommandLog, clock: SimulatedClock, id: string) {
  const election = new FakeElection(id);
  const leader = new Leader({ election, control: new ControlLog(log, 'ctl', { clock, groupId: `ctl-${id}` }), clock, logger: silentLogger(), url: () => `http://${id}` , refreshMs: 3_600_000 });
  await leader.start();
  return { election, leader };
}

describe('chooseLeader (the sticky assigner)', () => {
  it('keeps the partition with a member that holds it, else gives it to the lowest member id', () => {
    expect(chooseLeader([{ memberId: 'b', claim: { daemonId: 'b', holds: false } }, { memberId: 'a', claim: null }])).toBe('a');
    expect(chooseLeader([{ memberId: 'a', claim: { daemonId: 'a', holds: false } }, { memberId: 'c', claim: { daemonId: 'c', holds: true } }])).toBe('c');
    expect(chooseLeader([])).toBeNull();
  });
});

describe('Leader', () => {
  it('acts under the latest term only: a member paused past its lease, or superseded, is refused (NOT_LEADER naming the leader)', async () => {
    const clock = new SimulatedClock(0);
    const log = new MemoryCommandLog({ clock, logger: silentLogger() });
    const a = await member(log, clock, 'a');
    const b = await member(log, clock, 'b');
    a.election.set(true);
    await vi.waitFor(() => expect(a.leader.isLeader()).toBe(true));
    expect(await a.leader.check('promote')).toBe(1);
    await b.leader.control.refresh();
    expect(b.leader.status()).toMatchObject({ leader: false, current: { term: 1, daemonId: 'a', url: 'http://a' } });
    await expect(b.leader.check('promote')).rejects.toMatchObject({ code: 'TS_ERR_NOT_LEADER', message: expect.stringContaining('the leader is a at http://a (term 1)') });

    // a is paused past its lease: it may not act, though the group has not told it yet.
    a.election.fresh = false;
    await expect(a.leader.check('promote')).rejects.toMatchObject({ code: 'TS_ERR_NOT_LEADER' });
    // The group gives the partition to b, which claims term 2; a wakes up still believing it owns the partition.
    b.election.set(true);
    await vi.waitFor(() => expect(b.leader.isLeader()).toBe(true));
    a.election.fresh = true;
    await expect(a.leader.check('fence')).rejects.toMatchObject({ code: 'TS_ERR_NOT_LEADER', message: expect.stringContaining('the leader is b') });
    expect(a.leader.isLeader()).toBe(false);
    expect(await b.leader.check('promote')).toBe(2);
    await a.leader.stop();
    await b.leader.stop();
  });

  it('publishes decisions as increasing epochs per cluster that every member reads', async () => {
    const clock = new SimulatedClock(0);
    const log = new MemoryCommandLog({ clock, logger: silentLogger() });
    const a = await member(log, clock, 'a');
    const b = await member(log, clock, 'b');
    const seen: number[] = [];
    b.leader.control.onEpoch((r) => seen.push(r.epoch));
    const topology = { primary: 'n1', replicas: ['n2'], fenced: ['n0'] };
    await a.leader.control.publishEpoch({ cluster: 'pg0', epoch: 1, decision: 'promote', topology, term: 1, daemonId: 'a', at: 0 });
    await a.leader.control.publishEpoch({ cluster: 'pg0', epoch: 1, decision: 'promote', topology: { ...topology, primary: 'n2' }, term: 1, daemonId: 'stale', at: 0 });
    await a.leader.control.publishEpoch({ cluster: 'pg0', epoch: 2, decision: 'fence', topology, term: 1, daemonId: 'a', at: 0 });
    await b.leader.control.refresh();
    expect(b.leader.control.latest('pg0')).toMatchObject({ epoch: 2, decision: 'fence' });
    expect(seen).toEqual([1, 2]); // the second epoch 1 (later in the log) changes nothing
    await a.leader.stop();
    await b.leader.stop();
  });
});
