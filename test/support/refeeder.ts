// A re-feeder as the hold unit tests build it: four shards, writers that take everything, a simulated clock,
// silent logs; a test overrides what it exercises.
import { Refeeder, type RefeederDeps } from '../../actors/hold/refeeder.ts';
import type { ActorHandle } from '../../actors/runtime/system.ts';
import type { ShardWriterMsg } from '../../actors/shard-writer/messages.ts';
import type { CommandLog } from '../../adapters/kafka/port.ts';
import { SimulatedClock } from '../../lib/clock.ts';
import { defaultLimits } from '../../lib/command.ts';
import { silentLogger } from '../../lib/logger.ts';

export function testRefeeder(log: CommandLog, cluster: string, holdTopic: string, overrides: Partial<RefeederDeps> = {}): Refeeder {
  return new Refeeder({
    log,
    cluster,
    holdTopic,
    groupId: `g.hold.${cluster}`,
    shardCount: 4,
    limits: defaultLimits,
    writerFor: () => ({ tell: () => true }) as unknown as ActorHandle<ShardWriterMsg>,
    dlq: { send: async () => undefined },
    clock: new SimulatedClock(0),
    logger: silentLogger(),
    ratePerSec: 1_000,
    commitIntervalMs: 1_000,
    signal: new AbortController().signal,
    ...overrides,
  });
}
