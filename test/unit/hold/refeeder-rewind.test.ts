// The re-feeder rewinds (a promotion) while batches keep arriving: a batch handed over before the rewind's seek
// comes from the old position. Applied in the rewind's generation it seeded the partition's tracker above the
// records still with the writers, and a commit during the rewind moved the hold topic's offset past them — which
// the rewind then read back as "committed" and sought to: those held commands were never applied on the new
// primary (found by the fleet's one-sided-partition chaos test, issue 14). A rewind now holds back batches and
// commits until its seek, like the ingest's.
import { describe, expect, it } from 'vitest';
import { heldMessage } from '../../../actors/hold/hold-topic.ts';
import type { ActorHandle } from '../../../actors/runtime/system.ts';
import type { ShardWriterMsg, WriteItem } from '../../../actors/shard-writer/messages.ts';
import type { CommandLog, LogBatch, SubscribeOptions, Subscription } from '../../../adapters/kafka/port.ts';
import { commandStream } from '../../support/reference-model.ts';
import { testRefeeder } from '../../support/refeeder.ts';

const TOPIC = 'cmds.hold.pg0';

/** Held records at hold offsets [from, from + n), each the command at source offset 100 + its hold offset. */
function batch(from: number, n: number): LogBatch {
  const records = commandStream(n, from + 1).map((m, i) => {
    const held = heldMessage({ topic: 'cmds', partition: 0, offset: String(100 + from + i), key: m.key, value: m.value }, 'pg0', 'test', 0);
    return { topic: TOPIC, partition: 0, offset: String(from + i), key: held.key, value: held.value, headers: held.headers ?? {}, timestamp: 0 };
  });
  return { topic: TOPIC, partition: 0, highWatermark: String(from + n), records };
}

function harness() {
  let opts!: SubscribeOptions;
  const seeks: string[] = [];
  const commits: string[] = [];
  let answer!: (m: Map<number, string>) => void;
  const sub: Subscription = { pause: () => undefined, resume: () => undefined, paused: () => [], seek: (_t, p, o) => void seeks.push(`${p}@${o}`), commit: async (o) => void commits.push(...o.map((x) => `${x.partition}@${x.offset}`)), stop: async () => undefined };
  const log = {
    subscribe: async (o: SubscribeOptions) => {
      opts = o;
      return sub;
    },
    committed: () => new Promise<Map<number, string>>((r) => (answer = r)),
  } as unknown as CommandLog;
  const sent: WriteItem[] = [];
  const writer = { tell: (m: ShardWriterMsg) => (m.type === 'shard.write' && sent.push(...m.items), true) } as unknown as ActorHandle<ShardWriterMsg>;
  const r = testRefeeder(log, 'pg0', TOPIC, { writerFor: () => writer, ratePerSec: 100_000, commitIntervalMs: 60_000 });
  return { r, sent, seeks, commits, deliver: (b: LogBatch) => opts.eachBatch(b), assign: () => opts.onAssign!([{ topic: TOPIC, partition: 0 }]), answer: (o: string) => answer(new Map([[0, o]])) };
}

const sources = (items: WriteItem[]) => items.map((i) => Number(i.command.offset)).sort((a, b) => a - b);

describe('re-feeder rewind', () => {
  it('a batch handed over before the rewind seeked is not applied, and nothing commits past the records still with the writers', async () => {
    const h = harness();
    await h.r.start();
    h.assign();
    await h.deliver(batch(0, 5)); // hold offsets 0..4 with the writers, not yet replicated
    expect(sources(h.sent)).toEqual([100, 101, 102, 103, 104]);
    const rewound = h.r.rewind('cluster pg0 promoted');
    // Read before the seek, from the old position: it arrives while the rewind reads the committed offsets.
    const stale = h.deliver(batch(5, 5));
    await new Promise((res) => setImmediate(res));
    for (const it of h.sent.filter((i) => Number(i.command.offset) >= 105)) it.ack(); // if handed over, replicated at once
    await h.r.commitNow();
    expect(h.commits).toEqual([]); // nothing past hold offset 0: 0..4 are not done
    h.answer('0');
    await rewound;
    await stale;
    expect(h.seeks).toEqual(['0@0']);
    expect(sources(h.sent)).toEqual([100, 101, 102, 103, 104]); // nothing of the stale batch
    // Re-read from 0 in the new generation: everything applied and replicated, the commit goes through all of it.
    h.sent.length = 0;
    await h.deliver(batch(0, 10));
    for (const it of h.sent) it.ack();
    await h.r.commitNow();
    expect(h.commits).toEqual(['0@10']);
    await h.r.stop();
  });

  it('two rewinds at once (a failed write and the promotion) seek once, after reading the committed offsets', async () => {
    const h = harness();
    await h.r.start();
    h.assign();
    await h.deliver(batch(0, 3));
    const a = h.r.rewind('write failed');
    const b = h.r.rewind('cluster pg0 promoted');
    h.answer('0');
    await Promise.all([a, b]);
    expect(h.seeks).toEqual(['0@0']);
    await h.r.stop();
  });
});
