// The shard writer never drops a command silently: whatever it took for application is acked or failed.
import { describe, expect, it } from 'vitest';
import type { ApplyResult, AssocWrite, ShardStore } from '../../../adapters/pg/port.ts';
import type { WriteItem } from '../../../actors/shard-writer/messages.ts';
import { ReplicationWatcher } from '../../../actors/shard-writer/replication-watcher.ts';
import { ShardWriter } from '../../../actors/shard-writer/shard-writer.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

function fakeStore(applyBatch: (w: AssocWrite[]) => Promise<ApplyResult>): ShardStore {
  return { cluster: 'c', applyBatch, replicatedTo: async () => true } as unknown as ShardStore;
}

function item(offset: number, outcome: string[]): WriteItem {
  return {
    command: { id: `c${offset}`, op: 'attach', entity: `e${offset}`, tag: 't', actor: 'a', at: 0, partition: 0, offset: String(offset) },
    shard: 0,
    ack: () => outcome.push(`ack ${offset}`),
    fail: () => outcome.push(`fail ${offset}`),
  };
}

describe('ShardWriter', () => {
  it('fails every item of a batch whose apply throws an unclassified error (then rethrows to crash the actor)', async () => {
    const clock = new SimulatedClock();
    const store = fakeStore(async () => {
      throw new Error('Cannot use a pool after calling end on the pool');
    });
    const writer = new ShardWriter({
      shard: 0, cluster: 'c', store, replication: new ReplicationWatcher(store, { clock, logger: silentLogger() }),
      dlq: { send: async () => undefined }, clock, logger: silentLogger(), backoff: { initialMs: 1, multiplier: 2, maxMs: 10, jitter: 0 },
      batchSize: 2, batchWindowMs: 10, signal: new AbortController().signal, topic: 't', consumer: 'g',
    });
    const outcome: string[] = [];
    // Three items with batchSize 2: the first batch is taken out of the buffer and fails.
    await expect(writer.receive({ type: 'shard.write', items: [item(1, outcome), item(2, outcome), item(3, outcome)] })).rejects.toThrow(/pool/);
    writer.failAll(new Error('crashed'));
    expect(outcome.sort()).toEqual(['fail 1', 'fail 2', 'fail 3']);
  });
});

describe('ShardWriter batch window', () => {
  it('a window flush refused by a full mailbox is tried again, so a partial batch never waits forever', async () => {
    const clock = new SimulatedClock();
    const applied: number[] = [];
    const store = fakeStore(async (w) => {
      applied.push(w.length);
      return { changed: w.length, versioned: w.length, counterDeltas: [], perShard: [], commitLsn: '0/1' };
    });
    const writer = new ShardWriter({
      shard: 0, cluster: 'c', store, replication: new ReplicationWatcher(store, { clock, logger: silentLogger() }),
      dlq: { send: async () => undefined }, clock, logger: silentLogger(), backoff: { initialMs: 1, multiplier: 2, maxMs: 10, jitter: 0 },
      batchSize: 10, batchWindowMs: 20, signal: new AbortController().signal, topic: 't', consumer: 'g',
    });
    let accept = false;
    const flushes: string[] = [];
    writer.tellSelf = (m) => {
      flushes.push(m.type);
      if (!accept) return false; // the mailbox is full
      void writer.receive(m);
      return true;
    };
    const outcome: string[] = [];
    await writer.receive({ type: 'shard.write', items: [item(1, outcome), item(2, outcome)] });
    clock.increment(20); // window ends: the flush is refused
    expect(applied).toEqual([]);
    accept = true;
    clock.increment(20); // tried again
    await new Promise((r) => setImmediate(r));
    expect(flushes.length).toBe(2);
    expect(applied).toEqual([2]);
  });
});
