// Whether a cluster takes writes, as its failover monitor sees it: a machine busy with the cluster (electing,
// promoting, fencing, degraded…) cannot, and neither can a primary left without any replica — nothing it applies
// can be proven replicated (contract 3), so no offset behind its writes would ever commit. Both come from what
// the nodes say (the monitor's derived topology), so every daemon holds such a cluster alike.
import type { Writability } from './hold-board.ts';

export interface MonitorView {
  cluster: string;
  state: string;
  topology: { primary: string; replicas: readonly string[] };
}

const TAKES_WRITES = new Set(['healthy', 'suspect', 'stopped']);

export function failoverWritability(view: MonitorView | undefined): Writability {
  if (view === undefined) return { ok: true };
  if (!TAKES_WRITES.has(view.state)) return { ok: false, reason: `failover machine: ${view.state}` };
  if (view.state !== 'stopped' && view.topology.replicas.length === 0) {
    return { ok: false, reason: `no replica: no write to ${view.topology.primary} can be proven replicated (contract 3); re-seed one (tagstream reseed ${view.cluster} <node>)` };
  }
  return { ok: true };
}
