// Turns one round of node probes (ShardStore.probe()) into the failover machine's event: a dead primary
// (connection refused) is reported as such and acts at once; a hung one (timeout, other errors) is a miss.
import type { NodeProbe } from '../../adapters/pg/port.ts';
import type { FailoverEvent } from './machine.ts';

const REFUSED = /ECONNREFUSED|connection refused|could not connect|no pg_hba|terminating connection due to administrator command/i;

/** A probe error that says the node is not there (dead), not that it was slow to answer. */
export function isRefused(error: string | undefined): boolean {
  return error !== undefined && REFUSED.test(error);
}

/**
 * An election's probes where every candidate timed out (none refused): on a starved machine a fresh connection
 * can take longer than the probe timeout, and the next try may answer at once.
 */
export function allTimedOut(probes: readonly NodeProbe[]): boolean {
  return probes.length > 0 && probes.every((p) => !p.up && !isRefused(p.error));
}

export function probeToEvent(primary: string, probes: NodeProbe[]): FailoverEvent {
  const p = probes.find((x) => x.name === primary);
  if (p?.up) return { type: 'PROBE.OK', probes };
  if (isRefused(p?.error)) return { type: 'PROBE.REFUSED', probes };
  return { type: 'PROBE.TIMEOUT', probes };
}
