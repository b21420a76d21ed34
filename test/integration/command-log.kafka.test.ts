// The CommandLog contract against Kafka (services/ starts the broker; see test/support/global-services.ts).
import { describe, expect, it } from 'vitest';
import { KafkaCommandLog } from '../../adapters/kafka/kafka-command-log.ts';
import { classify } from '../../lib/classify.ts';
import { sleep, systemClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/logger.ts';
import { commandLogContract } from '../contract/command-log.contract.ts';
import { localConfig } from '../support/local.ts';

const config = localConfig();

commandLogContract('KafkaCommandLog', async () => {
  const log = new KafkaCommandLog({
    brokers: [...config.kafka.brokers],
    clientId: 'tagstream-contract',
    logger: createLogger({ level: config.log.level, name: 'contract' }),
  });
  return {
    log,
    eventually: async (pred, what) => {
      const deadline = systemClock.now() + 60_000;
      while (!(await pred())) {
        if (systemClock.now() > deadline) throw new Error(`not reached within 60 s: ${what}`);
        await sleep(systemClock, 50);
      }
    },
    // A few fetch cycles (maxWait 250 ms) for anything that was going to arrive.
    settle: () => sleep(systemClock, 1_500),
    close: () => log.close(),
  };
});

describe('KafkaCommandLog against an address where no broker listens', () => {
  it('fails fast and retriably instead of hanging', async () => {
    const log = new KafkaCommandLog({ brokers: ['127.0.0.1:1'], clientId: 'tagstream-dead', logger: createLogger({ level: 'silent' }), connectionTimeoutMs: 1_000 });
    try {
      for (const call of [() => log.produce('t', [{ key: 'k', value: 'v' }]), () => log.endOffsets('t'), () => log.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, eachBatch: async () => undefined })]) {
        const t0 = systemClock.now();
        const err = await call().then(
          () => null,
          (e: unknown) => e,
        );
        expect(classify(err).class).toBe('retry');
        expect(systemClock.now() - t0).toBeLessThan(15_000);
      }
    } finally {
      await log.close();
    }
  });
});

describe('KafkaCommandLog: one send larger than a broker accepts in one record batch', () => {
  // The broker refuses a partition's record batch above message.max.bytes (1 MiB by default) whole, and again on
  // every retry: a hold diverting thousands of stuck commands at once (each with its hold headers) looped on
  // MESSAGE_TOO_LARGE in the soak bench, re-delivering the same commands until the heap reached a gigabyte.
  it('is produced whole, in order, as several requests', async () => {
    const log = new KafkaCommandLog({ brokers: [...config.kafka.brokers], clientId: 'tagstream-large-send', logger: createLogger({ level: 'silent' }) });
    const topic = `large-send-${Date.now().toString(36)}`;
    try {
      await log.ensureTopic(topic, 1);
      const value = 'v'.repeat(700);
      const messages = Array.from({ length: 3_000 }, (_, i) => ({ key: `k${i}`, value: `${i}:${value}`, headers: { reason: 'r'.repeat(200) } })); // ~2.8 MB to one partition
      const results = await log.produce(topic, messages);
      expect(results.map((r) => [r.partition, r.offset])).toEqual(messages.map((_, i) => [0, String(i)]));
      expect((await log.endOffsets(topic)).get(0)).toBe('3000');
    } finally {
      await log.close();
    }
  });
});
