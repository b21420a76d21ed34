// The ingest never waits on a stuck cluster past its bound (issue 17, item 4), on simulated time: a writer whose
// mailbox stays full is given up after maxSendWaitMs once its cluster is found unwritable (3 × that at most
// otherwise); its commands go to the hold topic with their original bytes and position, their offsets settle
// once the hold topic has them, and the other cluster's commands are sent as usual.
import { describe, expect, it } from 'vitest';
import type { CommandLog, LogBatch, SubscribeOptions, Subscription } from '../../../adapters/kafka/port.ts';
import { Ingest, type IngestHold } from '../../../actors/ingest/ingest.ts';
import type { ActorHandle } from '../../../actors/runtime/system.ts';
import type { ShardWriterMsg, WriteItem } from '../../../actors/shard-writer/messages.ts';
import { defaultLimits, shardOf } from '../../../lib/command.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { commandStream } from '../../support/reference-model.ts';

const T = 'cmds';
const SHARDS = 4;
const clusterOf = (shard: number) => (shard % 2 === 0 ? 'a' : 'b');
const batch = (from: number, n: number, seed: number): LogBatch => ({
  topic: T,
  partition: 0,
  highWatermark: String(from + n),
  records: commandStream(n, seed, { entities: 50 }).map((m, i) => ({ topic: T, partition: 0, offset: String(from + i), key: m.key, value: m.value, headers: {}, timestamp: 0 })),
});

function harness(opts: { unwritable?: () => boolean; stopped?: number[]; stuck?: string } = {}) {
  let eachBatch!: (b: LogBatch) => Promise<void>;
  const commits: string[] = [];
  const sub: Subscription = { pause: () => undefined, resume: () => undefined, paused: () => [], seek: () => undefined, commit: async (o) => void commits.push(...o.map((x) => x.offset)), stop: async () => undefined };
  const log = { subscribe: async (o: SubscribeOptions) => ((eachBatch = o.eachBatch), sub) } as unknown as CommandLog;
  const sent: WriteItem[] = [];
  // Cluster b's writers are stuck: tell refuses, send waits until its signal aborts.
  const stuck = opts.stuck ?? 'b';
  const writer = (shard: number) =>
    ({
      path: `/tagstream/shards/shard-${shard}`,
      info: () => ({ status: opts.stopped?.includes(shard) ? 'stopped' : 'running' }),
      tell: (m: ShardWriterMsg) => {
        if (clusterOf(shard) === stuck || opts.stopped?.includes(shard) || m.type !== 'shard.write') return false;
        sent.push(...m.items);
        return true;
      },
      send: (_m: ShardWriterMsg, signal?: AbortSignal) => new Promise<void>((_, reject) => signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })))),
    }) as unknown as ActorHandle<ShardWriterMsg>;
  const writers = Array.from({ length: SHARDS }, (_, s) => writer(s));
  const produced: Array<{ cluster: string; sources: Parameters<IngestHold['produce']>[1]; reason: string }> = [];
  const held = new Set<string>();
  const hold: IngestHold = {
    clusterOf,
    holdReason: (c) => (held.has(c) ? 'held' : c === 'b' && opts.unwritable?.() ? 'failover machine: degraded' : null),
    hold: (c) => void held.add(c),
    produce: async (cluster, sources, reason) => void produced.push({ cluster, sources, reason }),
    maxSendWaitMs: 1_000,
  };
  const clock = new SimulatedClock(0);
  const ingest = new Ingest({ log, topic: T, groupId: 'g', shardCount: SHARDS, limits: defaultLimits, writerFor: (s) => writers[s]!, dlq: { send: async () => undefined }, clock, logger: silentLogger(), commitIntervalMs: 100, signal: new AbortController().signal, hold });
  return { ingest, clock, sent, produced, held, commits, deliver: (b: LogBatch) => eachBatch(b) };
}

/** Runs a delivery to its end while moving simulated time; returns how much time it took. */
async function timed(h: ReturnType<typeof harness>, p: Promise<void>): Promise<number> {
  const start = h.clock.now();
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 200 && !done; i++) {
    await new Promise((r) => setImmediate(r));
    h.clock.increment(100);
  }
  await p;
  return h.clock.now() - start;
}

describe('ingest: hold, do not block', () => {
  it('a cluster found unwritable while the ingest waits is given up after maxSendWaitMs: its commands go to its hold topic, the other cluster is sent, offsets commit', async () => {
    let down = false;
    const h = harness({ unwritable: () => down });
    await h.ingest.start();
    const b = batch(0, 60, 3);
    const delivery = h.deliver(b);
    down = true; // the failover machine leaves "healthy" while the ingest waits for space
    const took = await timed(h, delivery);
    expect(took).toBeLessThanOrEqual(1_100);
    const heldSources = h.produced.flatMap((p) => p.sources);
    expect(h.produced.every((p) => p.cluster === 'b' && p.reason === 'failover machine: degraded')).toBe(true);
    for (const s of heldSources) {
      expect(clusterOf(shardOf(s.key!, SHARDS))).toBe('b');
      expect(s.value).toBe(b.records[Number(s.offset)]!.value); // the original bytes, at their original position
      expect(s.partition).toBe(0);
    }
    expect(h.sent.every((i) => clusterOf(i.shard) === 'a')).toBe(true);
    expect(h.sent.length + heldSources.length).toBe(60);

    // Held: done once the hold topic has them; applied: done once acked. Then every offset commits.
    for (const i of h.sent) i.ack();
    await new Promise((r) => setImmediate(r));
    await h.ingest.commitNow();
    expect(h.commits.at(-1)).toBe('60');

    // The next batch does not wait at all for the held cluster.
    const next = await timed(h, h.deliver(batch(60, 40, 4)));
    expect(next).toBeLessThanOrEqual(100);
  });

  it('a full mailbox with no other sign is waited for up to 3 × maxSendWaitMs, never longer, then held', async () => {
    const h = harness();
    await h.ingest.start();
    const took = await timed(h, h.deliver(batch(0, 30, 5)));
    expect(took).toBeGreaterThanOrEqual(3_000);
    expect(took).toBeLessThanOrEqual(3_200);
    expect(h.held).toEqual(new Set(['b']));
    expect(h.produced.every((p) => /mailbox full/.test(p.reason))).toBe(true);
  });

  it('a writer its supervisor stopped for good holds its cluster: its commands go to the hold topic, no batch fails, the other cluster is sent', async () => {
    const h = harness({ stopped: [1], stuck: 'none' }); // shard 1 (cluster b) is stopped; nothing is merely slow
    await h.ingest.start();
    const b = batch(0, 60, 11);
    await h.deliver(b); // resolves: nothing thrown at the consumer
    expect([...h.held]).toEqual(['b']);
    expect(new Set(h.produced.map((p) => p.reason))).toEqual(new Set(['shard 1: writer stopped by its supervisor']));
    // Every command of cluster b is on its hold topic (those already told to shard 3 too: held is done, and a
    // command applied twice is applied idempotently); every command of cluster a went to its writers.
    const ofB = b.records.filter((r) => clusterOf(shardOf(JSON.parse(r.value!).entity, SHARDS)) === 'b').map((r) => r.offset);
    expect(h.produced.flatMap((p) => p.sources.map((x) => x.offset)).sort()).toEqual([...ofB].sort());
    const ofA = b.records.map((r) => r.offset).filter((o) => !ofB.includes(o));
    expect(h.sent.map((i) => i.command.offset).filter((o) => ofA.includes(o)).sort()).toEqual([...ofA].sort());
  });
});
