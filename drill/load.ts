// Mixed HTTP load for the drill: writes, read-your-writes reads (write → read with its token), popular tags and
// search, at a bounded rate against loopback. Counts answers per endpoint: availability = non-5xx share of the
// requests made while the daemon process was up (requests refused while the drill had killed it are counted
// apart as "daemon down"). Against a fleet, each request goes to the next daemon that is up (round-robin, as
// a load balancer with health checks), a read-your-writes read to another daemon than its write, and the
// answers are also counted per daemon; an entity read served by a node the drill knows is diverged (an old
// primary started again on its old timeline) is counted as a diverged read: it must never happen.
import { FEATURES_LIMITED_HEADER } from '../web/http/read-routes.ts';
import { rng } from './schedule.ts';

export type Endpoint = 'write' | 'entity-read' | 'popular' | 'search';

export interface EndpointStats {
  requests: number;
  ok: number;
  degraded: number;
  client4xx: number;
  server5xx: number;
  noAnswer: number;
  daemonDown: number;
}

export interface DaemonStats {
  requests: number;
  ok: number;
  server5xx: number;
  noAnswer: number;
  /** Entity reads answered, by the node (or cache) that served them. */
  servedBy: Record<string, number>;
}

export interface LoadReport {
  endpoints: Record<Endpoint, EndpointStats>;
  rywChecks: number;
  rywViolations: number;
  /**
   * Read-your-writes writes answered 202 "not applied within timeoutMs": with several daemons, one that does not
   * consume the entity's partition never sees the command applied (its own writers did not apply it).
   */
  rywNotApplied: number;
  /** Per daemon (by name), when the load ran against a fleet. */
  daemons: Record<string, DaemonStats>;
  /** Entity reads served by a node while it was known to be diverged, with who answered and which node. */
  divergedReads: Array<{ daemon: string; node: string; entity: string }>;
}

/** A daemon the load may send to. */
export interface LoadTarget {
  name: string;
  url: string;
  available(): boolean;
}

const empty = (): EndpointStats => ({ requests: 0, ok: 0, degraded: 0, client4xx: 0, server5xx: 0, noAnswer: 0, daemonDown: 0 });

interface LoadOptions {
  /** One daemon: its URL and whether it is up. */
  url?: () => string;
  daemonUp?: () => boolean;
  /** A fleet: the daemon for the next request (null: none is up). Takes precedence over url/daemonUp. */
  target?: () => LoadTarget | null;
  /** Nodes known to be diverged right now: an entity read they serve is counted in divergedReads. */
  diverged?: () => ReadonlySet<string>;
  prefix: string;
  seed: number;
  ratePerSec: number;
  tags: string[];
}

export function startLoad(opts: LoadOptions) {
  const r = rng(opts.seed ^ 0x5eed);
  const stats: Record<Endpoint, EndpointStats> = { write: empty(), 'entity-read': empty(), popular: empty(), search: empty() };
  const daemons: Record<string, DaemonStats> = {};
  const divergedReads: LoadReport['divergedReads'] = [];
  let rywChecks = 0;
  let rywViolations = 0;
  let rywNotApplied = 0;
  let stopped = false;
  const single: LoadTarget = { name: 'daemon', get url() { return opts.url?.() ?? ''; }, available: () => opts.daemonUp?.() ?? false };
  const pick = (): LoadTarget | null => (opts.target ? opts.target() : single);

  async function call(ep: Endpoint, method: string, path: string, headers: Record<string, string> = {}, to: LoadTarget | null = pick()): Promise<{ status: number; body: unknown; headers: Headers; by: string } | null> {
    const s = stats[ep];
    s.requests++;
    if (!to) {
      s.daemonDown++;
      return null;
    }
    const d = (daemons[to.name] ??= { requests: 0, ok: 0, server5xx: 0, noAnswer: 0, servedBy: {} });
    d.requests++;
    const up = to.available();
    try {
      const res = await fetch(`${to.url}${path}`, { method, headers, signal: AbortSignal.timeout(15_000) });
      const body = (await res.json().catch(() => null)) as unknown;
      if (res.status >= 500) s.server5xx++;
      else if (res.status >= 400) s.client4xx++;
      else if (res.status === 203 || res.headers.get(FEATURES_LIMITED_HEADER)) s.degraded++;
      else s.ok++;
      if (res.status >= 500) d.server5xx++;
      else d.ok++;
      if (ep === 'entity-read' && res.status < 300) {
        const a = body as { servedBy?: string; entity?: string } | null;
        const node = a?.servedBy ?? '?';
        d.servedBy[node] = (d.servedBy[node] ?? 0) + 1;
        if (opts.diverged?.().has(node)) divergedReads.push({ daemon: to.name, node, entity: a?.entity ?? path });
      }
      return { status: res.status, body, headers: res.headers, by: to.name };
    } catch {
      if (up && to.available()) {
        s.noAnswer++;
        d.noAnswer++;
      } else s.daemonDown++;
      return null;
    }
  }

  /** Another daemon than `name` when one is up (a read-your-writes read through a different daemon). */
  const other = (name: string): LoadTarget | null => {
    if (!opts.target) return single;
    for (let k = 0; k < 4; k++) {
      const t = opts.target();
      if (!t || t.name !== name) return t;
    }
    return opts.target();
  };

  const entity = () => `${opts.prefix}bug-${Math.floor(r() * 500)}`;
  const tag = () => opts.tags[Math.floor(r() * opts.tags.length)]!;

  async function rywSession(k: number): Promise<void> {
    const e = `${opts.prefix}ryw-${k}`;
    let attach = true;
    while (!stopped) {
      const t = tag();
      const w = await call('write', attach ? 'POST' : 'DELETE', `/v1/entities/${e}/tags/${encodeURIComponent(t)}?wait=applied&timeoutMs=5000`);
      if (w && w.status === 202 && (w.body as { applied?: boolean } | null)?.applied === false) rywNotApplied++;
      const token = w && w.status === 200 ? (w.body as { token?: string }).token : undefined;
      if (token) {
        const rd = await call('entity-read', 'GET', `/v1/entities/${e}/tags`, { 'x-consistency-token': token }, other(w!.by));
        if (rd && rd.status === 200) {
          rywChecks++;
          const tags = ((rd.body as { tags?: string[] }).tags ?? []) as string[];
          if (tags.includes(t) !== attach) rywViolations++;
        }
      }
      attach = !attach;
      await pause(200);
    }
  }

  async function mixed(): Promise<void> {
    const interval = 1_000 / opts.ratePerSec;
    while (!stopped) {
      const x = r();
      const p =
        x < 0.45
          ? call('write', r() < 0.7 ? 'POST' : 'DELETE', `/v1/entities/${entity()}/tags/${encodeURIComponent(tag())}`)
          : x < 0.7
            ? call('entity-read', 'GET', `/v1/entities/${entity()}/tags`)
            : x < 0.85
              ? call('popular', 'GET', '/v1/tags/popular?limit=10')
              : call('search', 'GET', `/v1/search?tag=${encodeURIComponent(tag())}&limit=20`);
      void p;
      await pause(interval);
    }
  }

  const pause = (ms: number) => new Promise((res) => setTimeout(res, ms));
  const workers = [mixed(), rywSession(0), rywSession(1)];
  return {
    stats,
    async stop(): Promise<LoadReport> {
      stopped = true;
      await Promise.all(workers);
      return { endpoints: stats, rywChecks, rywViolations, rywNotApplied, daemons, divergedReads };
    },
  };
}

export function availability(s: EndpointStats): number {
  const answeredOrLost = s.requests - s.daemonDown;
  return answeredOrLost === 0 ? 1 : (answeredOrLost - s.server5xx - s.noAnswer) / answeredOrLost;
}
