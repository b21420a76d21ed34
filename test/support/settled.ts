// "Everything in the log is done": every source offset of the writers group is committed AND every cluster's hold
// topic is drained (its re-feeder group committed to its end). Since issue 17 a committed source offset may mean
// "parked on the hold topic": a cluster that was slow for a moment (a failover, a loaded machine) is held and
// re-fed later, so a test that checks rows once offsets commit must wait for the holds too.
import type { CommandLog } from '../../adapters/kafka/port.ts';
import { holdGroupId, holdTopicName } from '../../actors/hold/hold-topic.ts';

export interface SettledScope {
  topic: string;
  groupId: string;
  clusters: Iterable<string>;
}

/** The partitions of `topic` whose committed offset for `group` is not its end, as "topic[p] committed/end". */
export async function behind(log: CommandLog, group: string, topic: string, missingTopicIsEmpty: boolean): Promise<string[]> {
  let ends: Map<number, string>;
  try {
    ends = await log.endOffsets(topic);
  } catch (err) {
    if (missingTopicIsEmpty) return []; // no hold topic: nothing was ever held
    throw err;
  }
  const committed = await log.committed(group, topic);
  return [...ends].filter(([p, end]) => end !== '0' && committed.get(p) !== end).map(([p, end]) => `${topic}[${p}] ${committed.get(p) ?? 'none'}/${end}`);
}

/** What is not yet done: each source or hold partition not committed to its end (empty when all is settled). */
export async function unsettled(log: CommandLog, s: SettledScope): Promise<string[]> {
  const out = await behind(log, s.groupId, s.topic, false);
  for (const c of s.clusters) out.push(...(await behind(log, holdGroupId(s.groupId, c), holdTopicName(s.topic, c), true)));
  return out;
}

/** True when the source topic is committed to its end and every hold topic has been re-fed to its end. */
export async function allSettled(log: CommandLog, s: SettledScope): Promise<boolean> {
  return (await unsettled(log, s)).length === 0;
}
