// Per-cluster applied rates through the drill: samples the daemon's tagstream_applied_commands_total{cluster}
// from /metrics, so the report shows what each fault cost each cluster (a whole cluster lost must cost only its
// own shards: issue 17). A daemon restart resets the counters; a drop is read as a restart from zero. With a
// fleet, every daemon's counters are sampled and summed (each applies the partitions it holds).

export interface RateSample {
  /** Seconds since the drill started. */
  t: number;
  /** Commands applied per cluster since the drill started (restarts stitched). */
  applied: Record<string, number>;
}

const LINE = /^tagstream_applied_commands_total\{cluster="([^"]+)"\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/;

export function parseApplied(metrics: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of metrics.split('\n')) {
    const m = LINE.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function sampleClusterRates(url: () => string | string[], startedAt: number, everyMs = 2_000) {
  const samples: RateSample[] = [];
  const last = new Map<string, Record<string, number>>();
  const total: Record<string, number> = {};
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const urls = [url()].flat();
      let answered = 0;
      await Promise.all(
        urls.map(async (u) => {
          try {
            const r = await fetch(`${u}/metrics`, { signal: AbortSignal.timeout(2_000) });
            const now = parseApplied(await r.text());
            const seen = last.get(u) ?? {};
            for (const [c, v] of Object.entries(now)) {
              const prev = seen[c] ?? 0;
              total[c] = (total[c] ?? 0) + (v >= prev ? v - prev : v);
              seen[c] = v;
            }
            last.set(u, seen);
            answered++;
          } catch {
            /* the daemon is down (a drill fault): the next sample stitches */
          }
        }),
      );
      if (answered > 0) samples.push({ t: (Date.now() - startedAt) / 1000, applied: { ...total } });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Commands per second per cluster between two times (seconds since start), from the nearest samples. */
export function ratesBetween(samples: RateSample[], from: number, to: number): Record<string, number> {
  const a = [...samples].reverse().find((s) => s.t <= from) ?? samples[0];
  const b = [...samples].reverse().find((s) => s.t <= to);
  if (!a || !b || b.t <= a.t) return {};
  const out: Record<string, number> = {};
  for (const c of Object.keys(b.applied)) out[c] = Math.round(((b.applied[c] ?? 0) - (a.applied[c] ?? 0)) / (b.t - a.t));
  return out;
}
