// Helpers of the indexing tests: the expected analytics roll-up of a log, group progress, reading topics.
import type { CommandLog, LogRecord } from '../../adapters/kafka/port.ts';
import { hourOf } from '../../adapters/analytics/port.ts';
import { commandTime, validateCommand } from '../../lib/command.ts';
import { allSettled } from './settled.ts';

/** Every record of a topic, all partitions. */
export async function readTopic(log: CommandLog, topic: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (const [p, end] of await log.endOffsets(topic)) if (Number(end) > 0) out.push(...(await log.read(topic, p, '0', Number(end))));
  return out;
}

/**
 * True once `group` committed the end of every partition of `topic`. For the writers group pass its clusters
 * (`holdsOf`): a committed source offset may mean "parked on the cluster's hold topic", drained later (settled.ts).
 */
export async function caughtUp(log: CommandLog, group: string, topic: string, holdsOf?: Iterable<string>): Promise<boolean> {
  if (holdsOf) return allSettled(log, { topic, groupId: group, clusters: holdsOf });
  const [ends, committed] = await Promise.all([log.endOffsets(topic), log.committed(group, topic)]);
  return [...ends].every(([p, end]) => end === '0' || committed.get(p) === end);
}

/** Expected usage rows (tag|hour → attaches, detaches) of the valid commands among `records`. */
export function expectedUsage(records: Array<Pick<LogRecord, 'key' | 'value'>>, prefix = ''): Map<string, { attaches: number; detaches: number }> {
  const out = new Map<string, { attaches: number; detaches: number }>();
  for (const r of records) {
    const v = validateCommand(r.value, undefined, r.key);
    if (!v.ok || !v.command.tag.startsWith(prefix)) continue;
    const k = `${v.command.tag}|${hourOf(commandTime(v.command))}`;
    const row = out.get(k) ?? { attaches: 0, detaches: 0 };
    if (v.command.op === 'attach') row.attaches++;
    else row.detaches++;
    out.set(k, row);
  }
  return out;
}
