// The store routes by what the nodes say (issue 14): a store started while the old primary was down never
// reads from it when it comes back on its old timeline; a write that exists only on a deposed primary is never
// proven by a replica of the new one, whatever LSN that replica replays; migrate finds the writable node itself.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedPgCluster } from '../../../../adapters/pg/embedded-pg-cluster.ts';
import { discoverPrimaries } from '../../../../adapters/pg/index.ts';
import { PgliteShardStore } from '../../../../adapters/pg/pglite-shard-store.ts';
import type { AssocWrite } from '../../../../adapters/pg/port.ts';
import { WRITE_TABLES } from '../../../../adapters/pg/schema.ts';
import { silentLogger } from '../../../../lib/logger.ts';

const nodes = ['d-n0', 'd-n1', 'd-n2'] as const;
const [n0, n1, n2] = nodes;
let embedded: EmbeddedPgCluster;
const open: PgliteShardStore[] = [];

const w = (entity: string, off: number): AssocWrite => ({ shard: 3, entity, tag: 'T', attached: true, partition: 0, offset: String(off), at: 0 });
const fresh = () => {
  const s = new PgliteShardStore({ embedded, logger: silentLogger() });
  open.push(s);
  return s;
};

beforeAll(async () => {
  embedded = await EmbeddedPgCluster.create('d', [...nodes]);
  const s = fresh();
  await s.migrate();
}, 60_000);
afterAll(async () => {
  await embedded.close();
});
beforeEach(async () => {
  for (const n of nodes) {
    embedded.reviveNode(n);
    embedded.releaseReplication(n);
    embedded.demote(n);
  }
  embedded.promote(n0);
  await embedded.truncate([...WRITE_TABLES]);
  return async () => {
    for (const s of open.splice(0)) await s.close();
  };
});

describe('embedded timelines', () => {
  it('a promotion starts a newer timeline; replicas follow the newest primary and say so in their probe', async () => {
    const before = embedded.timelineOf(n0);
    embedded.promote(n1);
    expect(embedded.timelineOf(n1)).toBe(before + 1);
    expect(embedded.timelineOf(n0)).toBe(before); // the old primary, never fenced, stays on its timeline
    const p = await embedded.probe(n2);
    expect(p).toMatchObject({ role: 'replica', timeline: before + 1, receiver: { status: 'streaming', upstream: n1, timeline: before + 1 } });
    expect((await embedded.probe(n1)).replication).toEqual([expect.objectContaining({ name: n2, state: 'streaming' })]);
  });
});

describe('RoutedShardStore: routing derived from the nodes', () => {
  it('a store started while the old primary was down never reads from it once it is back on its old timeline, and lists it as diverged', async () => {
    embedded.killNode(n0);
    embedded.promote(n1); // promoted by another daemon; n0 is down and was never fenced
    const s = fresh();
    expect(await s.discoverPrimary()).toMatchObject({ primary: n1 });
    await s.migrate();
    await s.applyBatch([w('e1', 1)]);
    embedded.reviveNode(n0); // a rebooted host: writable, on its old timeline
    await s.probe(); // one monitor round
    const servedBy = new Set<string>();
    for (let i = 0; i < 12; i++) servedBy.add((await s.entityTags(3, 'e1')).servedBy);
    expect(servedBy.has(n0)).toBe(false);
    expect(servedBy.has(n2)).toBe(true);
    expect(s.routing()).toMatchObject({ primary: n1, readable: [n2], diverged: [n0] });
    expect(s.routing()!.verdicts[n0]!.reason).toMatch(/older than/);
  });

  it('an old primary already back when the store starts is fenced at start: no write, no read reaches it', async () => {
    embedded.promote(n1); // n0 was never fenced: two writable nodes, n1 on the newer timeline
    const s = fresh();
    expect(await s.discoverPrimary()).toEqual({ primary: n1, replicas: [n2], fenced: [n0] });
    const calls = embedded.callCount(n0);
    await s.migrate();
    await s.applyBatch([w('e2', 1)]);
    for (let i = 0; i < 6; i++) expect((await s.entityTags(3, 'e2')).servedBy).not.toBe(n0);
    expect(embedded.callCount(n0)).toBe(calls);
  });

  it('one-shot tools (the standalone CLI) find the primary the daemon way, not nodes[0]', async () => {
    embedded.promote(n2);
    const s = fresh();
    await discoverPrimaries(new Map([['d', s]]), silentLogger());
    expect(s.topology()).toMatchObject({ primary: n2, fenced: [n0] });
  });

  it('migrate finds the writable node on the newest timeline by itself (no discoverPrimary first)', async () => {
    embedded.killNode(n0);
    embedded.promote(n2);
    const s = fresh();
    await s.migrate();
    expect(s.topology().primary).toBe(n2);
    expect((await s.applyBatch([w('e3', 1)])).commitTimeline).toBe(embedded.timelineOf(n2));
  });

  it('a node that does not stream from the primary serves no read, and serves again once it does', async () => {
    const s = fresh();
    await s.discoverPrimary();
    await s.applyBatch([w('e4', 1)]);
    embedded.killNode(n1);
    await s.probe();
    for (let i = 0; i < 6; i++) expect((await s.entityTags(3, 'e4')).servedBy).not.toBe(n1);
    embedded.reviveNode(n1);
    await s.probe();
    const servedBy = new Set<string>();
    for (let i = 0; i < 6; i++) servedBy.add((await s.entityTags(3, 'e4')).servedBy);
    expect(servedBy).toEqual(new Set([n1, n2]));
  });
});

describe('replication proof: (timeline, LSN)', () => {
  it('a write that exists only on a deposed primary is not proven by a replica of the new one that replays past its LSN', async () => {
    const s = fresh(); // a daemon that has not noticed the promotion yet
    await s.discoverPrimary();
    const r = await s.applyBatch([w('e5', 1)]);
    expect(r.commitTimeline).toBe(embedded.timelineOf(n0));
    expect(await s.replicatedTo(r.commitLsn, { timeline: r.commitTimeline! })).toBe(true);

    embedded.holdReplication(n1);
    embedded.holdReplication(n2);
    const lost = await s.applyBatch([w('e6', 2)]); // only on n0: its replicas are held back
    expect(await s.replicatedTo(lost.commitLsn, { timeline: lost.commitTimeline! })).toBe(false);
    embedded.killNode(n0);
    embedded.promote(n1); // another daemon fails over; n2 follows n1 and replays past lost.commitLsn
    embedded.releaseReplication(n2);
    const other = fresh();
    await other.discoverPrimary();
    await other.applyBatch([w('e7', 3), w('e8', 4)]);
    // A bare LSN says "replicated" (the data on the new timeline passed that position); the timeline says no.
    expect(await s.replicatedTo(lost.commitLsn)).toBe(true);
    expect(await s.replicatedTo(lost.commitLsn, { timeline: lost.commitTimeline! })).toBe(false);
    expect(await s.replicatedTo(lost.commitLsn, { timeline: lost.commitTimeline!, all: true })).toBe(false);
  });
});
