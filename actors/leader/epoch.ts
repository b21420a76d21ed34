// Topology epochs as numbers: a decision's epoch is above everything the cluster has seen — the epoch this
// daemon applied, the control log's latest and the one recorded on the cluster's primary (a control topic
// that was lost or recreated must not hand out an epoch again). Pure; the monitor supplies the three.

type Seen = number | null | undefined;

const top = (xs: Seen[]): number => xs.reduce<number>((m, x) => (typeof x === 'number' && Number.isFinite(x) && x > m ? x : m), 0);

/** What a starting daemon takes as the cluster's epoch: the higher of the control log's and the primary's. */
export function startingEpoch(inLog: Seen, recorded: Seen): number {
  return top([inLog, recorded]);
}

/** The epoch of the next decision. */
export function nextEpoch(applied: Seen, inLog: Seen, recorded: Seen): number {
  return top([applied, inLog, recorded]) + 1;
}
