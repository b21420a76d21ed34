// The embedded (PGlite) stores the write-path unit tests share within a file, and the log read back as the
// reference model's input.
import type { CommandLog } from '../../adapters/kafka/port.ts';
import { createShardStores } from '../../adapters/pg/index.ts';
import type { ShardStore } from '../../adapters/pg/port.ts';
import type { Config } from '../../config/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ModelRecord } from './reference-model.ts';

/** One store per cluster of `config`, migrated. */
export async function migratedStores(config: Config, logger: Logger): Promise<Map<string, ShardStore>> {
  const stores = await createShardStores(config, logger);
  for (const s of stores.values()) await s.migrate();
  return stores;
}

export async function closeStores(stores: Map<string, ShardStore> | undefined): Promise<void> {
  for (const s of stores?.values() ?? []) await s.close();
}

/** Every record of `topic`, partition by partition, from the start. */
export async function readLog(log: Pick<CommandLog, 'endOffsets' | 'read'>, topic: string): Promise<ModelRecord[]> {
  const out: ModelRecord[] = [];
  for (const [p, end] of await log.endOffsets(topic)) out.push(...(await log.read(topic, p, '0', Number(end))));
  return out;
}
