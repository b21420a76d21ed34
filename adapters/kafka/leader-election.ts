// Chooses the LeaderElection for the profile: embedded → MemoryLeaderElection (one process leads),
// local/production → KafkaLeaderElection on `<kafka.topic>.control`, group `<kafka.groupId>.leader`.
import type { Config } from '../../config/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { createKafkaClient } from './kafka-client.ts';
import { KafkaLeaderElection } from './kafka-leader-election.ts';
import type { LeaderElection } from './leader-election-port.ts';
import { MemoryLeaderElection } from './memory-leader-election.ts';

export type { LeaderElection, Leadership } from './leader-election-port.ts';

/** Kafka's default group.min.session.timeout.ms: the shortest session a broker accepts unless configured. */
export const DEFAULT_LEADER_SESSION_MS = 6_000;

export function controlTopicOf(config: Pick<Config, 'kafka'>): string {
  return `${config.kafka.topic}.control`;
}

/** The consumer group whose member owning the control topic's partition leads the deployment. */
export function leaderGroupOf(config: Pick<Config, 'kafka'>): string {
  return `${config.kafka.groupId}.leader`;
}

export function createLeaderElection(config: Pick<Config, 'profile' | 'kafka'>, deps: { logger: Logger; clock: Clock; daemonId: string; sessionTimeoutMs?: number }): LeaderElection {
  const topic = controlTopicOf(config);
  if (config.profile === 'embedded') return new MemoryLeaderElection(topic, { clock: deps.clock, daemonId: deps.daemonId });
  const logger = deps.logger.child({ component: 'leader-election' });
  const { brokers, clientId, ssl, sasl } = config.kafka;
  const kafka = createKafkaClient({ brokers: [...brokers], clientId: `${clientId}-leader`, ssl, ...(sasl ? { sasl } : {}) }, logger);
  return new KafkaLeaderElection({ kafka, clock: deps.clock, logger, daemonId: deps.daemonId, groupId: leaderGroupOf(config), topic, sessionTimeoutMs: deps.sessionTimeoutMs ?? DEFAULT_LEADER_SESSION_MS });
}
