// The router shared by both shard stores, over a scripted fake driver (no SQL engine): which node serves
// what, when replay positions are trusted, and that fenced nodes are never opened, queried or probed.
import { describe, expect, it } from 'vitest';
import type { NodeConn, NodeDriver } from '../../../../adapters/pg/node-conn.ts';
import type { NodeProbe } from '../../../../adapters/pg/port.ts';
import { RoutedShardStore } from '../../../../adapters/pg/routed-shard-store.ts';
import { classify } from '../../../../lib/classify.ts';
import { SimulatedClock } from '../../../../lib/clock.ts';
import { silentLogger } from '../../../../lib/logger.ts';

const NODES = ['n0', 'n1', 'n2'];

class FakeDriver implements NodeDriver {
  opened: string[] = [];
  open_ = new Map<string, number>();
  sessions = new Map<string, number>();
  replayQueries = new Map<string, number>();
  probed: string[] = [];
  replay = new Map<string, string | null>([
    ['n0', null],
    ['n1', '0/100'],
    ['n2', '0/100'],
  ]);
  down = new Set<string>();
  /** Timeline per node (1 unless a test moves it). */
  timeline = new Map<string, number>();

  open(node: string): NodeConn {
    this.opened.push(node);
    this.open_.set(node, (this.open_.get(node) ?? 0) + 1);
    let closed = false;
    const fail = () => {
      if (closed) throw new Error(`closed conn to ${node} used`);
      if (this.down.has(node)) throw Object.assign(new Error(`connect ECONNREFUSED ${node}`), { code: 'ECONNREFUSED' });
    };
    return {
      node,
      session: async (fn) => {
        fail();
        this.sessions.set(node, (this.sessions.get(node) ?? 0) + 1);
        // Every read answers with the serving node's name as its only tag.
        return fn({ query: async () => [{ tags: [node], lsn: '0/200', versioned: 0, changed: 0, deltas: [] }] as never });
      },
      replayLsn: async () => {
        this.replayQueries.set(node, (this.replayQueries.get(node) ?? 0) + 1);
        fail();
        return this.replay.get(node) ?? null;
      },
      replayPoint: async () => {
        this.replayQueries.set(node, (this.replayQueries.get(node) ?? 0) + 1);
        fail();
        const lsn = this.replay.get(node) ?? null;
        return { lsn, timeline: lsn === null ? null : (this.timeline.get(node) ?? 1) };
      },
      writeTimeline: async () => this.timeline.get(node) ?? 1,
      close: async () => {
        closed = true;
        this.open_.set(node, (this.open_.get(node) ?? 1) - 1);
      },
    };
  }

  async probe(node: string): Promise<NodeProbe> {
    this.probed.push(node);
    if (this.down.has(node)) return { name: node, up: false, error: 'down' };
    const r = this.replay.get(node);
    const primary = NODES.find((n) => this.replay.get(n) === null && !this.down.has(n)) ?? null;
    const timeline = this.timeline.get(node) ?? 1;
    // A primary and the standbys that stream from it, as a real probe reports them.
    if (!r) return { name: node, up: true, role: 'primary', currentLsn: '0/300', timeline, replication: NODES.filter((n) => n !== node && this.replay.get(n) && !this.down.has(n)).map((n) => ({ name: n, state: 'streaming' })) };
    return { name: node, up: true, role: 'replica', replayLsn: r, receiveLsn: r, timeline, replayTimeline: timeline, receiver: { status: primary ? 'streaming' : 'waiting', upstream: primary, timeline } };
  }

  async close(): Promise<void> {}
}

function setup() {
  const driver = new FakeDriver();
  const clock = new SimulatedClock(0);
  const store = new RoutedShardStore({ cluster: 'pg0', nodes: NODES, driver, logger: silentLogger(), clock, replicaRetryMs: 1_000 });
  return { driver, clock, store };
}

const served = async (store: RoutedShardStore, opts = {}) => (await store.entityTags(1, 'e', opts)).servedBy;

describe('RoutedShardStore routing', () => {
  it('opens nothing until used; writes go to the primary', async () => {
    const { driver, store } = setup();
    expect(driver.opened).toEqual([]);
    await store.applyBatch([]);
    expect(driver.opened).toEqual(['n0']);
  });

  it('reads without a token alternate over the replicas', async () => {
    const { store } = setup();
    expect([await served(store), await served(store), await served(store), await served(store)]).toEqual(['n1', 'n2', 'n1', 'n2']);
  });

  it('a minLsn read uses a replica that replayed it, else the primary', async () => {
    const { driver, store } = setup();
    driver.replay.set('n1', '0/50');
    expect(await served(store, { minLsn: '0/100' })).toBe('n2');
    expect(await served(store, { minLsn: '0/100' })).toBe('n2');
    expect(await served(store, { minLsn: '0/101' })).toBe('n0');
    expect(await store.entityTags(1, 'e', { minLsn: '0/101' })).toEqual({ tags: ['n0'], servedBy: 'n0', role: 'primary' });
  });

  it('trusts a replay position it has seen (positions only move forward) and asks again only when behind', async () => {
    const { driver, store } = setup();
    await store.probe();
    expect(await store.replicatedTo('0/100')).toBe(true);
    expect(driver.replayQueries.size).toBe(0);
    expect(await store.replicatedTo('0/101')).toBe(false);
    expect(driver.replayQueries.get('n1')).toBe(1);
    driver.replay.set('n2', '0/180');
    expect(await store.replicatedTo('0/150')).toBe(true);
    expect(await store.replicatedTo('0/150')).toBe(true);
    expect(driver.replayQueries.get('n2')).toBe(2);
  });

  it('primary:true forces the primary', async () => {
    const { store } = setup();
    expect(await served(store, { primary: true })).toBe('n0');
  });

  it('a replica that fails is skipped (reads fall back to the primary) until its retry time or a good probe', async () => {
    const { driver, clock, store } = setup();
    driver.down.add('n1');
    expect(await served(store)).toBe('n0'); // n1 was next, failed: the primary answered
    expect(await served(store)).toBe('n2');
    expect(await served(store)).toBe('n2');
    clock.increment(1_000);
    driver.down.delete('n1');
    const after = new Set([await served(store), await served(store)]);
    expect(after).toEqual(new Set(['n1', 'n2']));
    driver.down.add('n2');
    await served(store); // marks n2 down if it was its turn
    await served(store);
    driver.down.delete('n2');
    await store.probe(); // a good probe clears the mark at once
    expect(new Set([await served(store), await served(store)])).toEqual(new Set(['n1', 'n2']));
  });

  it('a minLsn read tries the next replica when one is down', async () => {
    const { driver, store } = setup();
    driver.down.add('n1');
    expect(await served(store, { minLsn: '0/100' })).toBe('n2');
  });

  it('primary failures are not hidden', async () => {
    const { driver, store } = setup();
    driver.down.add('n0');
    const err = await store.applyBatch([]).catch((e: unknown) => e);
    expect(classify(err).class).toBe('retry');
    await expect(store.entityTags(1, 'e', { primary: true })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('RoutedShardStore fencing', () => {
  it('closes a fenced node, never reopens, queries or probes it, and keeps it fenced', async () => {
    const { driver, store } = setup();
    await store.applyBatch([]);
    await served(store);
    await served(store);
    await store.setTopology({ primary: 'n1', replicas: ['n2'], fenced: ['n0'] });
    expect(driver.open_.get('n0')).toBe(0);
    const sessionsBefore = driver.sessions.get('n0');
    driver.replay.set('n1', null); // n1 was promoted
    await store.applyBatch([]);
    await served(store, { primary: true });
    await served(store, { minLsn: '0/FFFF' });
    await store.probe();
    await store.replicatedTo('0/1');
    await store.setTopology({ primary: 'n1', replicas: ['n0', 'n2'], fenced: [] });
    for (let i = 0; i < 4; i++) await served(store);
    expect(driver.opened.filter((n) => n === 'n0')).toEqual(['n0']);
    expect(driver.sessions.get('n0')).toBe(sessionsBefore);
    expect(driver.probed).not.toContain('n0');
    expect(store.topology()).toEqual({ primary: 'n1', replicas: ['n2'], fenced: ['n0'] });
    const probes = await store.probe();
    expect(probes[0]).toMatchObject({ name: 'n0', up: false });
  });

  it('refuses a fenced primary and unknown nodes', async () => {
    const { store } = setup();
    await expect(store.setTopology({ primary: 'n0', replicas: [], fenced: ['n0'] })).rejects.toMatchObject({ code: 'TS_ERR_FENCED' });
    await store.setTopology({ primary: 'n1', replicas: [], fenced: ['n0'] });
    const err = await store.setTopology({ primary: 'n0', replicas: [], fenced: [] }).catch((e: unknown) => e);
    expect(classify(err).class).toBe('reroute');
    await expect(store.setTopology({ primary: 'n9', replicas: [], fenced: [] })).rejects.toThrow(/unknown node/);
  });

  it('readmit is the one way back: a re-seeded old primary serves reads again and may be promoted later', async () => {
    const { driver, store } = setup();
    await store.setTopology({ primary: 'n1', replicas: ['n2'], fenced: ['n0'] });
    driver.replay.set('n1', null);
    driver.replay.set('n0', '0/100'); // re-seeded as a replica of n1
    await store.readmit('n0');
    expect(store.topology()).toEqual({ primary: 'n1', replicas: ['n2', 'n0'], fenced: [] });
    const servedBy = new Set<string>();
    for (let i = 0; i < 4; i++) servedBy.add(await served(store));
    expect(servedBy).toEqual(new Set(['n0', 'n2']));
    await store.setTopology({ primary: 'n0', replicas: ['n2'], fenced: ['n1'] });
    expect(store.topology()).toEqual({ primary: 'n0', replicas: ['n2'], fenced: ['n1'] });
    await store.readmit('n2'); // not fenced: a no-op
    await expect(store.readmit('n9')).rejects.toThrow(/unknown node/);
  });

  it('after close, calls fail and nothing stays open', async () => {
    const { driver, store } = setup();
    await served(store);
    await store.close();
    expect([...driver.open_.values()].every((n) => n === 0)).toBe(true);
    await expect(store.applyBatch([])).rejects.toMatchObject({ code: 'TS_ERR_SHUTTING_DOWN' });
  });
});

describe('RoutedShardStore replicatedTo', () => {
  it('all: every replica must have replayed the LSN (one behind, or down, holds it); none at all is not proof', async () => {
    const { driver, store } = setup();
    driver.replay.set('n1', '0/200');
    driver.replay.set('n2', '0/100');
    expect(await store.replicatedTo('0/150')).toBe(true);
    expect(await store.replicatedTo('0/150', { all: true })).toBe(false);
    driver.replay.set('n2', '0/180');
    expect(await store.replicatedTo('0/150', { all: true })).toBe(true);
    driver.down.add('n2');
    expect(await store.replicatedTo('0/190', { all: true })).toBe(false);
    await store.setTopology({ primary: 'n0', replicas: [], fenced: [] });
    expect(await store.replicatedTo('0/1', { all: true })).toBe(false);
  });

  it('does not wait on replicas marked down, and answers false when none is left', async () => {
    const { driver, clock, store } = setup();
    driver.down.add('n1');
    driver.down.add('n2');
    expect(await store.replicatedTo('0/1')).toBe(false);
    expect([driver.replayQueries.get('n1'), driver.replayQueries.get('n2')]).toEqual([1, 1]);
    expect(await store.replicatedTo('0/1')).toBe(false);
    expect([driver.replayQueries.get('n1'), driver.replayQueries.get('n2')]).toEqual([1, 1]);
    driver.down.clear();
    clock.increment(1_000);
    expect(await store.replicatedTo('0/1')).toBe(true);
  });
});

describe('RoutedShardStore after a primary change', () => {
  it('forgets replay positions seen on the old timeline and asks the replicas again', async () => {
    const { driver, store } = setup();
    await store.probe();
    expect(await store.replicatedTo('0/100')).toBe(true);
    driver.replay.set('n1', null);
    driver.replay.set('n2', '0/90'); // rewound onto the new primary's timeline
    await store.setTopology({ primary: 'n1', replicas: ['n2'], fenced: ['n0'] });
    expect(await store.replicatedTo('0/100')).toBe(false);
  });
});

describe('RoutedShardStore replay checks', () => {
  it('concurrent replicatedTo calls share one replay query per replica', async () => {
    const { driver, store } = setup();
    const answers = await Promise.all(Array.from({ length: 20 }, () => store.replicatedTo('0/100')));
    expect(answers.every(Boolean)).toBe(true);
    expect([driver.replayQueries.get('n1'), driver.replayQueries.get('n2')]).toEqual([1, 1]);
  });
});
