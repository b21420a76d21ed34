// deriveTopology: routing from what the nodes say (issue 14, part 1). Table tests for each rule, then
// properties over random clusters: never a read on an older timeline, the same answer in any observing order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveTopology, toTopology, type DeriveInput } from '../../../../adapters/pg/derive-topology.ts';
import type { NodeProbe } from '../../../../adapters/pg/port.ts';

const NODES = ['n0', 'n1', 'n2'];
const primary = (name: string, timeline: number, extra: Partial<NodeProbe> = {}): NodeProbe => ({ name, up: true, role: 'primary', timeline, currentLsn: '0/100', ...extra });
const standby = (name: string, timeline: number, upstream: string | null, status = 'streaming', extra: Partial<NodeProbe> = {}): NodeProbe => ({
  name,
  up: true,
  role: 'replica',
  timeline,
  replayLsn: '0/100',
  ...(upstream !== null || status !== 'none' ? { receiver: { status, upstream, timeline } } : {}),
  ...extra,
});
const down = (name: string, error = 'connect ECONNREFUSED'): NodeProbe => ({ name, up: false, error });
const derive = (probes: NodeProbe[], extra: Partial<DeriveInput> = {}) => deriveTopology({ nodes: NODES, probes, ...extra });

describe('deriveTopology', () => {
  it('a healthy cluster: the writable node leads, its streaming standbys serve reads', () => {
    const d = derive([primary('n0', 1), standby('n1', 1, 'n0'), standby('n2', 1, 'n0')]);
    expect(d).toMatchObject({ primary: 'n0', timeline: 1, readable: ['n1', 'n2'], diverged: [], unreachable: [], fenced: [] });
  });

  it("the primary's pg_stat_replication is evidence enough (the standby's own receiver view may be unreadable)", () => {
    const d = derive([primary('n0', 1, { replication: [{ name: 'n1', state: 'streaming' }, { name: 'n2', state: 'catchup' }] }), standby('n1', 1, null, 'none'), standby('n2', 1, null, 'none')]);
    expect(d.readable).toEqual(['n1']);
    expect(d.verdicts.n2!.verdict).toBe('standby');
  });

  it('the issue 14 case: an old primary back on timeline 1 while n1 leads on 2 is diverged and fenced, never read', () => {
    const d = derive([primary('n0', 1), primary('n1', 2), standby('n2', 2, 'n1')]);
    expect(d).toMatchObject({ primary: 'n1', timeline: 2, readable: ['n2'], diverged: ['n0'], fenced: ['n0'] });
  });

  it('an old primary back on timeline 1 while the new primary is down: no primary (a standby reports timeline 2)', () => {
    const d = derive([primary('n0', 1), down('n1'), standby('n2', 2, 'n1', 'waiting')]);
    expect(d).toMatchObject({ primary: null, newestTimeline: 2, readable: [], diverged: ['n0'], unreachable: ['n1'], fenced: ['n0'] });
  });

  it('a durable minimum timeline keeps an old primary out even when nothing else answers', () => {
    expect(derive([primary('n0', 1), down('n1'), down('n2')], { minTimeline: 2 })).toMatchObject({ primary: null, diverged: ['n0'] });
  });

  it('a read-only non-standby (fenced by a failover) is diverged when another node leads', () => {
    const d = derive([primary('n0', 1, { readOnly: true }), primary('n1', 2), standby('n2', 2, 'n1')]);
    expect(d).toMatchObject({ primary: 'n1', diverged: ['n0'], fenced: ['n0'] });
  });

  it('a read-only primary with no other writable node (a switchover in progress) is only out of routing', () => {
    const d = derive([primary('n0', 1, { readOnly: true }), standby('n1', 1, 'n0'), standby('n2', 1, 'n0')]);
    expect(d).toMatchObject({ primary: null, readable: [], diverged: [], fenced: [] });
    expect(d.verdicts.n0!.verdict).toBe('read-only');
  });

  it('a standby still on the old timeline (not repointed yet) is out of routing but not diverged', () => {
    const d = derive([down('n0'), primary('n1', 2), standby('n2', 1, 'n0', 'waiting')]);
    expect(d).toMatchObject({ primary: 'n1', readable: [], diverged: [], unreachable: ['n0'] });
    expect(d.verdicts.n2!.verdict).toBe('old-timeline');
  });

  it('a standby streaming from someone else, or not streaming, serves no reads', () => {
    const d = derive([primary('n0', 1), standby('n1', 1, 'n2'), standby('n2', 1, 'n0', 'catchup')]);
    expect(d.readable).toEqual([]);
    expect(d.verdicts.n1!.verdict).toBe('standby');
  });

  it("a standby whose receiver reports another timeline than the primary's is not proof", () => {
    expect(derive([primary('n0', 3), standby('n1', 2, 'n0'), standby('n2', 3, 'n0')]).readable).toEqual(['n2']);
  });

  it('a frozen or dead node is unreachable and out of routing', () => {
    const d = derive([primary('n0', 1), down('n1', 'timeout expired'), standby('n2', 1, 'n0')]);
    expect(d).toMatchObject({ readable: ['n2'], unreachable: ['n1'], diverged: [] });
  });

  it('a node without a probe counts as unreachable', () => {
    expect(derive([primary('n0', 1)]).unreachable).toEqual(['n1', 'n2']);
  });

  it('a fenced node is never the primary nor read, whatever it says', () => {
    const d = derive([primary('n0', 2), standby('n1', 2, 'n0'), standby('n2', 2, 'n0')], { fenced: ['n0', 'n2'] });
    expect(d).toMatchObject({ primary: null, readable: [], diverged: ['n0'], fenced: ['n0', 'n2'] });
    expect(d.verdicts.n2!.verdict).toBe('fenced');
  });

  it('two writable nodes on the same newest timeline (two promotions): the one standbys follow leads, the other is diverged', () => {
    const d = derive([primary('n0', 2, { currentLsn: '0/900' }), primary('n1', 2, { replication: [{ name: 'n2', state: 'streaming' }] }), standby('n2', 2, 'n1')]);
    expect(d).toMatchObject({ primary: 'n1', readable: ['n2'], diverged: ['n0'] });
  });

  it('nothing answers: no primary, nothing readable', () => {
    expect(derive([down('n0'), down('n1'), down('n2')])).toMatchObject({ primary: null, readable: [], unreachable: NODES });
  });

  it('toTopology keeps the current primary when none is derived and never lists the primary as fenced', () => {
    const cur = { primary: 'n0', replicas: ['n1', 'n2'], fenced: [] };
    expect(toTopology(derive([down('n0'), down('n1'), down('n2')]), cur)).toEqual({ primary: 'n0', replicas: [], fenced: [] });
    expect(toTopology(derive([primary('n0', 1), primary('n1', 2), standby('n2', 2, 'n1')]), cur)).toEqual({ primary: 'n1', replicas: ['n2'], fenced: ['n0'] });
  });
});

// ── properties ───────────────────────────────────────────────────────────────────────────────────────────
const NAMES = ['a', 'b', 'c', 'd'];
const probeArb = (name: string): fc.Arbitrary<NodeProbe> =>
  fc.oneof(
    fc.constant<NodeProbe>({ name, up: false, error: 'timeout' }),
    fc.record({ timeline: fc.integer({ min: 1, max: 4 }), readOnly: fc.boolean(), lsn: fc.integer({ min: 0, max: 5 }), followers: fc.subarray(NAMES) }).map(
      ({ timeline, readOnly, lsn, followers }): NodeProbe => ({ name, up: true, role: 'primary', timeline, readOnly, currentLsn: `0/${lsn}`, replication: followers.map((f) => ({ name: f, state: 'streaming' })) }),
    ),
    fc.record({ timeline: fc.integer({ min: 1, max: 4 }), upstream: fc.constantFrom<string | null>(null, ...NAMES), status: fc.constantFrom('streaming', 'catchup', 'waiting') }).map(
      ({ timeline, upstream, status }): NodeProbe => ({ name, up: true, role: 'replica', timeline, receiver: { status, upstream, timeline } }),
    ),
  );
const clusterArb = fc.tuple(...NAMES.map(probeArb)).chain((probes) =>
  fc.record({ probes: fc.shuffledSubarray(probes, { minLength: probes.length, maxLength: probes.length }), fenced: fc.subarray(NAMES), minTimeline: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }) }),
);

describe('deriveTopology properties', () => {
  it('never routes a read, nor writes, to a node below the newest timeline, a fenced node or a non-standby', () => {
    fc.assert(
      fc.property(clusterArb, ({ probes, fenced, minTimeline }) => {
        const d = deriveTopology({ nodes: NAMES, probes, fenced, ...(minTimeline !== undefined ? { minTimeline } : {}) });
        const by = new Map(probes.map((p) => [p.name, p]));
        if (d.primary) {
          const p = by.get(d.primary)!;
          expect(p.up && p.role === 'primary' && !p.readOnly && !fenced.includes(d.primary)).toBe(true);
          expect(p.timeline).toBe(d.newestTimeline);
          for (const other of probes) if (other.up) expect(other.timeline ?? 0).toBeLessThanOrEqual(p.timeline!);
        } else expect(d.readable).toEqual([]);
        for (const r of d.readable) {
          const p = by.get(r)!;
          expect(p.up && p.role === 'replica' && !fenced.includes(r) && r !== d.primary).toBe(true);
          expect(p.receiver?.timeline ?? d.timeline).toBe(d.timeline);
        }
        for (const f of d.fenced) expect(d.readable.includes(f) || d.primary === f).toBe(false);
        // Every answering writable node that is not the primary is fenced.
        for (const p of probes) if (p.up && p.role === 'primary' && !p.readOnly && p.name !== d.primary) expect(d.fenced).toContain(p.name);
      }),
    );
  });

  it('gives the same answer in any order of observing', () => {
    fc.assert(
      fc.property(clusterArb, fc.func(fc.integer()), ({ probes, fenced, minTimeline }, key) => {
        const base = deriveTopology({ nodes: NAMES, probes, fenced, ...(minTimeline !== undefined ? { minTimeline } : {}) });
        const shuffled = [...probes].sort((x, y) => key(x.name) - key(y.name));
        expect(deriveTopology({ nodes: NAMES, probes: shuffled, fenced: [...fenced].reverse(), ...(minTimeline !== undefined ? { minTimeline } : {}) })).toEqual(base);
      }),
    );
  });

  it('every node gets exactly one verdict, and the lists agree with them', () => {
    fc.assert(
      fc.property(clusterArb, ({ probes, fenced }) => {
        const d = deriveTopology({ nodes: NAMES, probes, fenced });
        expect(Object.keys(d.verdicts).sort()).toEqual(NAMES);
        for (const n of NAMES) {
          const v = d.verdicts[n]!.verdict;
          expect(v === 'primary').toBe(d.primary === n);
          expect(v === 'streaming').toBe(d.readable.includes(n));
          expect(v === 'diverged').toBe(d.diverged.includes(n));
          expect(v === 'unreachable').toBe(d.unreachable.includes(n));
        }
      }),
    );
  });
});
