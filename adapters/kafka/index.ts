// Chooses the CommandLog for the profile: embedded → MemoryCommandLog, local/production → KafkaCommandLog.
import type { Config } from '../../config/index.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { KafkaCommandLog } from './kafka-command-log.ts';
import { MemoryCommandLog } from './memory-command-log.ts';
import type { RedeliveryFactory } from './delivery.ts';
import type { CommandLog } from './port.ts';

export type { CommandLog, LogBatch, LogMessage, LogRecord, ProduceResult, SubscribeOptions, Subscription, TopicPartitionOffset } from './port.ts';
export { KafkaCommandLog, type KafkaCommandLogOptions } from './kafka-command-log.ts';
export { MemoryCommandLog, type MemoryCommandLogOptions } from './memory-command-log.ts';
export { partitionForKey } from './partitioner.ts';

/** `redelivery`: the back-off before a batch whose handler threw is delivered again (the daemon: the retry machine's). */
export function createCommandLog(config: Pick<Config, 'profile' | 'kafka'>, logger: Logger, clock: Clock = systemClock, opts: { redelivery?: RedeliveryFactory } = {}): CommandLog {
  const log = logger.child({ component: 'command-log' });
  if (config.profile === 'embedded') return new MemoryCommandLog({ clock, logger: log, ...(opts.redelivery ? { redelivery: opts.redelivery } : {}) });
  const { brokers, clientId, ssl, sasl } = config.kafka;
  return new KafkaCommandLog({ brokers: [...brokers], clientId, ssl, ...(sasl ? { sasl } : {}), logger: log, clock, ...(opts.redelivery ? { redelivery: opts.redelivery } : {}) });
}
