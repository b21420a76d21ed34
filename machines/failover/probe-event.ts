// Turns one round of node probes (ShardStore.probe()) into the failover machine's event: a dead primary
// (connection refused) is reported as such and acts at once; a hung one (timeout, other errors) is a miss.
import type { NodeProbe } from '../../adapters/pg/port.ts';
import type { FailoverEvent } from './machine.ts';

const REFUSED = /ECONNREFUSED|connection refused|could not connect|no pg_hba|terminating connection due to administrator command/i;

export function probeToEvent(primary: string, probes: NodeProbe[]): FailoverEvent {
  const p = probes.find((x) => x.name === primary);
  if (p?.up) return { type: 'PROBE.OK', probes };
  if (p?.error && REFUSED.test(p.error)) return { type: 'PROBE.REFUSED', probes };
  return { type: 'PROBE.TIMEOUT', probes };
}
