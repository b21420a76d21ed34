// Follows an external failover manager: Patroni's REST API. `/cluster` names the leader and the members;
// member names must be our node names (config.postgres.clusters[].nodes[].name). Switchover and
// re-initialisation are asked of the leader's / the member's own API.

export interface PatroniMember {
  name: string;
  /** leader | replica | sync_standby | standby_leader */
  role: string;
  /** running | streaming | starting | stopped | crashed | … */
  state?: string;
  timeline?: number;
  lag?: number | string;
  /** http://host:port/patroni — this member's own REST API. */
  api_url?: string;
}

export interface PatroniView {
  /** The member holding the leader key, or null (no leader right now: an election is under way). */
  leader: string | null;
  members: PatroniMember[];
}

export type FetchPatroniView = (urls: readonly string[], timeoutMs: number) => Promise<PatroniView | null>;

/**
 * GET /cluster from every member's API at once; the first answer wins. A dead member refuses at once, but a
 * frozen one would hold a one-by-one poll for a whole timeout. Null when none answers.
 */
export const fetchPatroniView: FetchPatroniView = async (urls, timeoutMs) => {
  if (urls.length === 0) return null;
  try {
    return await Promise.any(
      urls.map(async (url) => {
        const res = await fetch(new URL('/cluster', url), { signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
        const body = (await res.json()) as { members?: PatroniMember[] };
        const members = body.members ?? [];
        const leader = members.find((m) => m.role === 'leader' || m.role === 'standby_leader');
        return { leader: leader?.name ?? null, members };
      }),
    );
  } catch {
    return null;
  }
};

/** The base URL of a member's own API (from /cluster's api_url), else the configured URL at the same index. */
export function memberApi(view: PatroniView, member: string, urls: readonly string[], nodes: readonly string[]): string | null {
  const m = view.members.find((x) => x.name === member);
  if (m?.api_url) return new URL(m.api_url).origin;
  const i = nodes.indexOf(member);
  return i >= 0 && urls[i] ? new URL(urls[i]!).origin : null;
}

/** POST to a member's API; resolves with its text answer, throws with it on a non-2xx status. */
export async function patroniPost(base: string, path: string, body: unknown, timeoutMs: number): Promise<string> {
  const res = await fetch(new URL(path, base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`Patroni ${path} at ${base}: HTTP ${res.status} ${text.trim()}`);
  return text.trim();
}
