// The leader election's group member on a real broker: owning the control partition is the point, reading it is
// not — but records do arrive on that partition (terms, topology epochs). The member must move past them: one
// that never resolves its batches fetches the same records again at once, for ever (it was ~500 Fetch
// requests/s per daemon, a busy loop on the broker and on the daemon's one thread).
import kafkajs from 'kafkajs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createKafkaClient, type KafkaClient } from '../../adapters/kafka/kafka-client.ts';
import { KafkaLeaderElection } from '../../adapters/kafka/kafka-leader-election.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const config = localConfig();
let election: KafkaLeaderElection | null = null;
let kafka: KafkaClient | null = null;

afterAll(async () => {
  await election?.stop();
});

describe('KafkaLeaderElection on a real broker', () => {
  it('the leading member reads each control record once and then waits for new ones (no re-fetch loop)', async () => {
    const topic = uniqueName('leader-ctl');
    kafka = createKafkaClient({ brokers: [...config.kafka.brokers], clientId: uniqueName('le') }, silentLogger());
    // See the member's own consumer: every batch it is handed, and every fetch it makes.
    const consumerOf = kafka.consumer.bind(kafka);
    let member: kafkajs.Consumer | null = null;
    kafka.consumer = ((c: kafkajs.ConsumerConfig) => (member = consumerOf(c))) as typeof kafka.consumer;
    election = new KafkaLeaderElection({ kafka, clock: systemClock, logger: silentLogger(), daemonId: 'd1', groupId: `${topic}.leader`, topic, sessionTimeoutMs: 6_000 });
    await election.prepare();
    const batches: string[] = [];
    let fetches = 0;
    member!.on(member!.events.START_BATCH_PROCESS, (e) => batches.push(`${e.payload.firstOffset}-${e.payload.lastOffset}`));
    member!.on(member!.events.FETCH, () => void fetches++);
    const led = new Promise<void>((resolve) => election!.onChange((l) => l.leader && resolve()));
    election.join();
    await led;
    // The member starts at the log's end (no committed offset, not from the beginning): records produced before
    // its first fetch resolved that position would be behind it, never handed over (seen on a loaded machine, where
    // the test then waited for them until it timed out). After a fetch, the position is set.
    await vi.waitFor(() => expect(fetches).toBeGreaterThan(0), { timeout: 60_000, interval: 20 });

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'leader', value: '1' }, { key: 'cluster/pg0', value: '2' }, { key: 'cluster/pg1', value: '3' }] });
    await producer.disconnect();

    // Wait until the records were handed over, then for five more fetches after that (each a long poll).
    await vi.waitFor(() => expect(batches.length).toBeGreaterThan(0), { timeout: 60_000, interval: 20 });
    const after = fetches;
    await vi.waitFor(() => expect(fetches).toBeGreaterThanOrEqual(after + 5), { timeout: 60_000, interval: 20 });
    expect(new Set(batches).size).toBe(batches.length); // no batch handed over twice
    expect(batches).toHaveLength(1);
  });
});
