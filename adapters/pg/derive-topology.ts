// Routing derived from what the nodes say, never from memory (contract 11): the probes of every node (plus
// the fenced set recorded durably, if any) → who takes writes, who may serve reads, who is out and why.
// Pure and order-independent, so a daemon started a second ago reaches the answer of one that watched it all.
import { isLsn, lsnToBigInt } from './lsn.ts';
import type { NodeProbe, Topology } from './port.ts';

export interface DeriveInput {
  /** Every configured node of the cluster. */
  nodes: readonly string[];
  /** One probe per node (a node without one counts as unreachable). */
  probes: readonly NodeProbe[];
  /** Nodes that must never be the primary or serve reads again (old primaries), e.g. recorded by the leader. */
  fenced?: readonly string[];
  /** A timeline known to exist (a durable record, or the newest this process saw): writable nodes below it are old. */
  minTimeline?: number;
}

export type NodeVerdict =
  /** Accepts writes on the newest timeline. */
  | 'primary'
  /** A standby streaming from the primary on its timeline: may serve reads. */
  | 'streaming'
  /** A standby (in recovery) not proven to stream from the primary: out of routing, not diverged (it may catch up). */
  | 'standby'
  /** A standby on a timeline older than the primary's: out of routing until it follows the new timeline. */
  | 'old-timeline'
  /** Answers but is no member: writable below the newest timeline, a second writable node, or read-only non-standby. */
  | 'diverged'
  /** Read-only and not a standby while no primary is known (a switchover in progress): out of routing. */
  | 'read-only'
  | 'unreachable'
  /** In the fenced input and not diverged by its own answer (a standby, or down). */
  | 'fenced';

export interface DerivedTopology {
  primary: string | null;
  /** The primary's timeline. */
  timeline: number | null;
  /** The newest timeline any answering node reported (or minTimeline). */
  newestTimeline: number;
  /** Standbys streaming from the primary on its timeline, in configured order. Empty when there is no primary. */
  readable: string[];
  /** Answering nodes out of routing that are no healthy member (verdict 'diverged'), in configured order. */
  diverged: string[];
  unreachable: string[];
  /** Nodes that must get no write of ours: the fenced input and every diverged node, in configured order. */
  fenced: string[];
  verdicts: Record<string, { verdict: NodeVerdict; reason: string }>;
}

const tl = (p: NodeProbe | undefined): number => p?.timeline ?? 0;

export function deriveTopology(input: DeriveInput): DerivedTopology {
  const fencedIn = new Set(input.fenced ?? []);
  const probe = new Map<string, NodeProbe>();
  for (const p of input.probes) {
    if (!input.nodes.includes(p.name)) continue;
    // Two probes of one node (should not happen): the one that answered, then the newer timeline, wins.
    const prev = probe.get(p.name);
    if (!prev || (!prev.up && p.up) || (prev.up === p.up && tl(p) > tl(prev))) probe.set(p.name, p);
  }
  const answered = input.nodes.filter((n) => probe.get(n)?.up === true);
  const newest = Math.max(input.minTimeline ?? 0, ...answered.map((n) => tl(probe.get(n))));
  const writable = answered.filter((n) => {
    const p = probe.get(n)!;
    return p.role === 'primary' && !p.readOnly && !fencedIn.has(n);
  });
  const primary = pickPrimary(writable.filter((n) => tl(probe.get(n)) === newest), probe, input.nodes);
  const ptl = primary ? tl(probe.get(primary)) : null;
  const verdicts: DerivedTopology['verdicts'] = {};
  for (const n of input.nodes) verdicts[n] = verdictOf(n, probe.get(n), { primary, ptl, newest, fencedIn, primaryProbe: primary ? probe.get(primary)! : undefined });
  const pick = (v: NodeVerdict) => input.nodes.filter((n) => verdicts[n]!.verdict === v);
  const diverged = pick('diverged');
  return {
    primary,
    timeline: ptl,
    newestTimeline: newest,
    readable: pick('streaming'),
    diverged,
    unreachable: pick('unreachable'),
    fenced: input.nodes.filter((n) => fencedIn.has(n) || diverged.includes(n)),
    verdicts,
  };
}

/** Several writable nodes on the newest timeline (two promotions from one parent): the one standbys follow, then the furthest, then by name. */
function pickPrimary(cands: string[], probe: Map<string, NodeProbe>, nodes: readonly string[]): string | null {
  const followers = (n: string) => (probe.get(n)?.replication ?? []).filter((r) => r.state === 'streaming' && nodes.includes(r.name) && r.name !== n).length;
  const sorted = [...cands].sort((a, b) => followers(b) - followers(a) || compareLsnText(probe.get(b)?.currentLsn, probe.get(a)?.currentLsn) || (a < b ? -1 : a > b ? 1 : 0));
  return sorted[0] ?? null;
}

interface Ctx {
  primary: string | null;
  ptl: number | null;
  newest: number;
  fencedIn: Set<string>;
  primaryProbe: NodeProbe | undefined;
}

function verdictOf(n: string, p: NodeProbe | undefined, c: Ctx): { verdict: NodeVerdict; reason: string } {
  if (!p?.up) return c.fencedIn.has(n) ? { verdict: 'fenced', reason: `fenced; does not answer${p?.error ? `: ${p.error}` : ''}` } : { verdict: 'unreachable', reason: p?.error ?? 'not probed' };
  if (n === c.primary) return { verdict: 'primary', reason: `accepts writes on timeline ${c.ptl}` };
  if (p.role === 'primary') {
    if (c.fencedIn.has(n)) return { verdict: 'diverged', reason: 'fenced old primary that answers as a primary' };
    if (tl(p) < c.newest) return { verdict: 'diverged', reason: `${p.readOnly ? 'read-only ' : ''}primary on timeline ${tl(p)}, older than ${c.newest}` };
    if (!p.readOnly) return { verdict: 'diverged', reason: `a second writable node on timeline ${tl(p)}` };
    if (c.primary) return { verdict: 'diverged', reason: 'read-only and not a standby' };
    return { verdict: 'read-only', reason: 'read-only and not a standby; no node accepts writes' };
  }
  if (c.fencedIn.has(n)) return { verdict: 'fenced', reason: 'fenced; a standby now (adopt it once re-seeded)' };
  if (!c.primary) return { verdict: 'standby', reason: 'no primary to stream from' };
  if (streamsFromPrimary(n, p, c)) return { verdict: 'streaming', reason: `streams from ${c.primary} on timeline ${c.ptl}` };
  if (p.timeline !== undefined && p.timeline < c.ptl!) return { verdict: 'old-timeline', reason: `standby on timeline ${p.timeline}, the primary is on ${c.ptl}` };
  return { verdict: 'standby', reason: `not seen streaming from ${c.primary}${p.receiver ? ` (receiver ${p.receiver.status}, upstream ${p.receiver.upstream ?? 'unknown'})` : ''}` };
}

/** The primary's pg_stat_replication says so, or the standby's own WAL receiver does (upstream and timeline). */
function streamsFromPrimary(n: string, p: NodeProbe, c: Ctx): boolean {
  const r = p.receiver;
  // The receiver's timeline is exact; without it, `p.timeline` is a lower bound (the last restartpoint's).
  if (r?.timeline !== undefined && r.timeline !== c.ptl) return false;
  if (c.primaryProbe?.replication?.some((x) => x.name === n && x.state === 'streaming')) return true;
  return r !== undefined && r.status === 'streaming' && r.upstream === c.primary && (r.timeline ?? p.timeline) === c.ptl;
}

/** The topology a store routes by: the derived primary (else the current one), replicas that may serve reads. */
export function toTopology(d: DerivedTopology, current: Topology): Topology {
  const primary = d.primary ?? current.primary;
  return { primary, replicas: d.readable.filter((n) => n !== primary), fenced: [...new Set([...current.fenced, ...d.fenced])].filter((n) => n !== primary) };
}

function compareLsnText(a: string | undefined, b: string | undefined): number {
  const x = a && isLsn(a) ? lsnToBigInt(a) : -1n;
  const y = b && isLsn(b) ? lsnToBigInt(b) : -1n;
  return x === y ? 0 : x < y ? -1 : 1;
}
