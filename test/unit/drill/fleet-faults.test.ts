// The drill's fleet parts that need no services: the schedule with several daemons, who-led-when intervals, and
// the final read pass's tally of wrong answers per daemon and per serving node.
import { describe, expect, it } from 'vitest';
import { formatIntervals, leadershipIntervals, splitBrainSamples } from '../../../drill/leadership.ts';
import { expectedState } from '../../../drill/model.ts';
import { expectedTags, sameTags, tally, type Answer } from '../../../drill/read-check.ts';
import { FAULT_KINDS, FLEET_KINDS, LEADER_SESSION_S, faultSchedule } from '../../../drill/schedule.ts';

describe('drill schedule with several daemons', () => {
  it('the fleet faults come first, so the 3-minute drill has the leader killed, the leader paused and the restart while a primary is down', () => {
    const s = faultSchedule({ seed: 1, seconds: 180, clusters: 2, redis: 2, daemons: 2 });
    expect(new Set(s.slice(0, 3).map((f) => f.kind))).toEqual(new Set(FLEET_KINDS));
    for (let i = 1; i < s.length; i++) expect(s[i]!.at).toBeGreaterThanOrEqual(s[i - 1]!.at + s[i - 1]!.durationS);
  });

  it('a leader pause outlasts the leader\'s group session; a killed leader stays down past it', () => {
    const s = faultSchedule({ seed: 5, seconds: 3_600, clusters: 2, redis: 2, daemons: 3 });
    const pauses = s.filter((f) => f.kind === 'leader-pause');
    const kills = s.filter((f) => f.kind === 'leader-kill');
    expect(pauses.length).toBeGreaterThan(0);
    expect(kills.length).toBeGreaterThan(0);
    for (const f of [...pauses, ...kills]) expect(f.durationS).toBeGreaterThan(LEADER_SESSION_S);
  });

  it('a killed daemon is one of the fleet; a long drill with one daemon still has every kind', () => {
    const s = faultSchedule({ seed: 2, seconds: 3_600, clusters: 2, redis: 2, daemons: 3 });
    for (const f of s.filter((x) => x.kind === 'daemon-kill')) expect(f.target).toBeLessThan(3);
    expect(new Set(faultSchedule({ seed: 1, seconds: 3_600, clusters: 2, redis: 2 }).map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
  });
});

describe('who led when', () => {
  it('folds samples into intervals; a gap with no leader and a new term are intervals of their own', () => {
    const samples = [
      { t: 1, leaders: ['d0'], term: 1 },
      { t: 2, leaders: ['d0'], term: 1 },
      { t: 3, leaders: [], term: 1 },
      { t: 4, leaders: [], term: 1 },
      { t: 5, leaders: ['d1'], term: 2 },
      { t: 6, leaders: ['d1'], term: 3 },
    ];
    expect(leadershipIntervals(samples, 10)).toEqual([
      { from: 1, to: 3, leader: 'd0', term: 1 },
      { from: 3, to: 5, leader: 'none', term: null },
      { from: 5, to: 6, leader: 'd1', term: 2 },
      { from: 6, to: 10, leader: 'd1', term: 3 },
    ]);
    expect(formatIntervals(leadershipIntervals(samples, 10))[1]).toContain('none');
  });

  it('two daemons leading in the same sample is counted as split brain', () => {
    expect(splitBrainSamples([{ t: 1, leaders: ['d0'], term: 1 }, { t: 2, leaders: ['d1', 'd0'], term: 2 }])).toBe(1);
    expect(leadershipIntervals([{ t: 2, leaders: ['d1', 'd0'], term: 2 }])[0]!.leader).toBe('d0+d1');
  });
});

describe('final read through every daemon', () => {
  const rec = (offset: number, entity: string, tag: string, op: 'attach' | 'detach') => ({ partition: 0, offset: String(offset), key: entity, value: JSON.stringify({ id: `c${offset}`, op, entity, tag, actor: 't', at: 1 }) });
  const expected = expectedState([rec(0, 'p-a', 'x', 'attach'), rec(1, 'p-a', 'y', 'attach'), rec(2, 'p-b', 'x', 'attach'), rec(3, 'p-b', 'x', 'detach'), rec(4, 'q-c', 'x', 'attach')]);

  it('expects each entity\'s attached tags, [] when all were detached, only under the prefix', () => {
    expect(expectedTags(expected, 'p-')).toEqual(new Map([['p-a', ['x', 'y']], ['p-b', []]]));
    expect(sameTags(['x', 'y'], ['y', 'x'])).toBe(true);
    expect(sameTags(['x'], ['x', 'y'])).toBe(false);
  });

  it('counts wrong answers per serving node, and unanswered reads apart', () => {
    const want = expectedTags(expected, 'p-');
    const answers = new Map<string, Answer>([
      ['p-a', { status: 200, tags: ['x'], servedBy: 'pg0-n0' }],
      ['p-b', { status: 200, tags: [], servedBy: 'pg0-n1' }],
    ]);
    const r = tally(want, answers);
    expect(r).toMatchObject({ reads: 2, wrong: 1, unanswered: 0, servedBy: { 'pg0-n0': 1, 'pg0-n1': 1 }, wrongBy: { 'pg0-n0': 1 } });
    expect(r.examples[0]).toContain('p-a via pg0-n0');
    expect(tally(want, new Map([['p-a', { status: 503 }]]))).toMatchObject({ reads: 2, wrong: 0, unanswered: 2 });
  });
});
