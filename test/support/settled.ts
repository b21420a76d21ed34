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

async function committedToEnd(log: CommandLog, group: string, topic: string, missingTopicIsEmpty: boolean): Promise<boolean> {
  let ends: Map<number, string>;
  try {
    ends = await log.endOffsets(topic);
  } catch (err) {
    if (missingTopicIsEmpty) return true; // no hold topic: nothing was ever held
    throw err;
  }
  const committed = await log.committed(group, topic);
  return [...ends].every(([p, end]) => end === '0' || committed.get(p) === end);
}

/** True when the source topic is committed to its end and every hold topic has been re-fed to its end. */
export async function allSettled(log: CommandLog, s: SettledScope): Promise<boolean> {
  if (!(await committedToEnd(log, s.groupId, s.topic, false))) return false;
  for (const c of s.clusters) if (!(await committedToEnd(log, holdGroupId(s.groupId, c), holdTopicName(s.topic, c), true))) return false;
  return true;
}
