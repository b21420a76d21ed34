// Picks the replica to promote: the most caught-up one. Highest receive LSN first (it holds the most WAL, so
// the least acknowledged-but-unreplicated data is lost), ties broken by replay LSN, then by name for determinism.
import { compareLsn } from './lsn.ts';

export interface ReplicaPosition {
  receive: string | null;
  replay: string | null;
  /** When these positions were observed (clock ms). */
  at: number;
}

export function electReplica(candidates: readonly string[], positions: Readonly<Record<string, ReplicaPosition>>): string | null {
  let best: string | null = null;
  for (const name of candidates) {
    if (best === null) {
      best = name;
      continue;
    }
    const a = positions[name];
    const b = positions[best];
    const byReceive = compareLsn(a?.receive, b?.receive);
    const byReplay = compareLsn(a?.replay, b?.replay);
    if (byReceive > 0 || (byReceive === 0 && (byReplay > 0 || (byReplay === 0 && name < best)))) best = name;
  }
  return best;
}
