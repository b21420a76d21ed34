// The re-feeder with writers slower than its batch budget (issue 17; a 3-daemon chaos run drained nothing for
// 3 minutes): what the writers did not take is handed over again after a pause, what they took completes and is
// committed — never a rewind, which threw the mailboxes' work away and, with writers slower than the budget,
// started over forever. Each held command reaches the writers exactly once and the hold topic's offsets commit to
// its end. Simulated time, the in-memory log.
import { describe, expect, it } from 'vitest';
import { heldMessage, holdTopicName } from '../../../actors/hold/hold-topic.ts';
import { Refeeder } from '../../../actors/hold/refeeder.ts';
import type { ActorHandle } from '../../../actors/runtime/system.ts';
import type { ShardWriterMsg, WriteItem } from '../../../actors/shard-writer/messages.ts';
import { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { defaultLimits, shardOf } from '../../../lib/command.ts';
import { silentLogger } from '../../../lib/logger.ts';

const SHARDS = 4;
const HELD = 300;
const SLOW_MS = 5_000; // each writer works on one message that long: longer than the re-feeder's 3 s budget

/** A writer whose mailbox holds one message; it finishes (acks) that message SLOW_MS after taking it. */
function slowWriter(clock: SimulatedClock, handed: Map<string, number>) {
  let busyUntil = -1;
  const waiting: Array<() => void> = [];
  const take = (msg: ShardWriterMsg) => {
    if (msg.type !== 'shard.write') return;
    busyUntil = clock.now() + SLOW_MS;
    for (const it of msg.items as WriteItem[]) handed.set(it.command.offset, (handed.get(it.command.offset) ?? 0) + 1);
    clock.setTimeout(() => {
      for (const it of msg.items as WriteItem[]) it.ack();
      busyUntil = -1;
      waiting.shift()?.();
    }, SLOW_MS);
  };
  const handle = {
    path: 'writer',
    tell: (msg: ShardWriterMsg) => (busyUntil >= 0 ? false : (take(msg), true)),
    send: (msg: ShardWriterMsg, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        if (busyUntil < 0) return resolve(take(msg));
        const go = () => (signal?.aborted ? undefined : resolve(take(msg)));
        waiting.push(go);
        signal?.addEventListener('abort', () => {
          const i = waiting.indexOf(go);
          if (i >= 0) waiting.splice(i, 1);
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        });
      }),
  } as unknown as ActorHandle<ShardWriterMsg>;
  return handle;
}

describe('re-feeder with busy writers', () => {
  it('hands every held command over exactly once and commits the hold topic to its end', async () => {
    const clock = new SimulatedClock(1_000_000);
    const log = new MemoryCommandLog({ clock });
    const topic = holdTopicName('cmds', 'pg1');
    await log.ensureTopic(topic, 1);
    await log.produce(
      topic,
      Array.from({ length: HELD }, (_, i) => {
        const entity = `e-${i % 40}`;
        const value = JSON.stringify({ id: `c${i}`, op: i % 3 ? 'attach' : 'detach', entity, tag: `t${i % 5}`, actor: 'gen', at: 1 });
        return heldMessage({ topic: 'cmds', partition: 0, offset: String(i), key: entity, value }, 'pg1', 'test', clock.now());
      }),
    );
    const handed = new Map<string, number>();
    const writers = Array.from({ length: SHARDS }, () => slowWriter(clock, handed));
    const stop = new AbortController();
    const refeeder = new Refeeder({
      log,
      cluster: 'pg1',
      holdTopic: topic,
      groupId: 'g.hold.pg1',
      shardCount: SHARDS,
      limits: defaultLimits,
      writerFor: (s) => writers[s]!,
      dlq: { send: async () => undefined },
      clock,
      logger: silentLogger(),
      ratePerSec: 100_000,
      commitIntervalMs: 100,
      signal: stop.signal,
    });
    await refeeder.start();
    const committed = async () => Number((await log.committed('g.hold.pg1', topic)).get(0) ?? 0);
    // Each writer takes one message per SLOW_MS: 300 commands over 4 shards in chunks take a few minutes.
    for (let t = 0; t < 20 * 60_000 && (await committed()) < HELD; t += 50) {
      await new Promise((r) => setImmediate(r));
      clock.increment(50);
    }
    expect(await committed()).toBe(HELD);
    expect(handed.size).toBe(HELD);
    expect([...handed.values()].filter((n) => n !== 1)).toEqual([]);
    expect(new Set([...handed.keys()].map((o) => shardOf(`e-${Number(o) % 40}`, SHARDS))).size).toBe(SHARDS);
    stop.abort();
    await refeeder.stop();
  }, 60_000);
});
