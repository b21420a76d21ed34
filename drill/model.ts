// The expected final state of a command log: per (entity, tag) the valid command with the highest offset wins
// (commands of one entity share a partition); counters count attached associations per tag. Invalid commands
// are listed: they must be accounted for in the DLQ.
import { validateCommand, type CommandLimits } from '../lib/command.ts';

export interface ModelRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
}

export interface ExpectedAssoc {
  attached: boolean;
  offset: bigint;
  partition: number;
}

export interface ExpectedState {
  assoc: Map<string, ExpectedAssoc>;
  counts: Map<string, number>;
  invalid: ModelRecord[];
  valid: number;
}

export function expectedState(records: Iterable<ModelRecord>, limits?: CommandLimits): ExpectedState {
  const assoc = new Map<string, ExpectedAssoc>();
  const invalid: ModelRecord[] = [];
  let valid = 0;
  for (const r of records) {
    const v = validateCommand(r.value, limits, r.key);
    if (!v.ok) {
      invalid.push(r);
      continue;
    }
    valid++;
    const key = `${v.command.entity}|${v.command.tag}`;
    const off = BigInt(r.offset);
    const prev = assoc.get(key);
    if (!prev || prev.offset < off) assoc.set(key, { attached: v.command.op === 'attach', offset: off, partition: r.partition });
  }
  const counts = new Map<string, number>();
  for (const [key, a] of assoc) {
    if (!a.attached) continue;
    const tag = key.slice(key.indexOf('|') + 1);
    counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  return { assoc, counts, invalid, valid };
}
