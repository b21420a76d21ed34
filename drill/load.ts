// Mixed HTTP load for the drill: writes, read-your-writes reads (write → read with its token), popular tags and
// search, at a bounded rate against loopback. Counts answers per endpoint: availability = non-5xx share of the
// requests made while the daemon process was up (requests refused while the drill had killed it are counted
// apart as "daemon down").
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

export interface LoadReport {
  endpoints: Record<Endpoint, EndpointStats>;
  rywChecks: number;
  rywViolations: number;
}

const empty = (): EndpointStats => ({ requests: 0, ok: 0, degraded: 0, client4xx: 0, server5xx: 0, noAnswer: 0, daemonDown: 0 });

export function startLoad(opts: { url: () => string; daemonUp: () => boolean; prefix: string; seed: number; ratePerSec: number; tags: string[] }) {
  const r = rng(opts.seed ^ 0x5eed);
  const stats: Record<Endpoint, EndpointStats> = { write: empty(), 'entity-read': empty(), popular: empty(), search: empty() };
  let rywChecks = 0;
  let rywViolations = 0;
  let stopped = false;

  async function call(ep: Endpoint, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Headers } | null> {
    const s = stats[ep];
    s.requests++;
    const up = opts.daemonUp();
    try {
      const res = await fetch(`${opts.url()}${path}`, { method, headers, signal: AbortSignal.timeout(15_000) });
      const body = (await res.json().catch(() => null)) as unknown;
      if (res.status >= 500) s.server5xx++;
      else if (res.status >= 400) s.client4xx++;
      else if (res.status === 203 || res.headers.get(FEATURES_LIMITED_HEADER)) s.degraded++;
      else s.ok++;
      return { status: res.status, body, headers: res.headers };
    } catch {
      if (up && opts.daemonUp()) s.noAnswer++;
      else s.daemonDown++;
      return null;
    }
  }

  const entity = () => `${opts.prefix}bug-${Math.floor(r() * 500)}`;
  const tag = () => opts.tags[Math.floor(r() * opts.tags.length)]!;

  async function rywSession(k: number): Promise<void> {
    const e = `${opts.prefix}ryw-${k}`;
    let attach = true;
    while (!stopped) {
      const t = tag();
      const w = await call('write', attach ? 'POST' : 'DELETE', `/v1/entities/${e}/tags/${encodeURIComponent(t)}?wait=applied&timeoutMs=5000`);
      const token = w && w.status === 200 ? (w.body as { token?: string }).token : undefined;
      if (token) {
        const rd = await call('entity-read', 'GET', `/v1/entities/${e}/tags`, { 'x-consistency-token': token });
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
      return { endpoints: stats, rywChecks, rywViolations };
    },
  };
}

export function availability(s: EndpointStats): number {
  const answeredOrLost = s.requests - s.daemonDown;
  return answeredOrLost === 0 ? 1 : (answeredOrLost - s.server5xx - s.noAnswer) / answeredOrLost;
}
