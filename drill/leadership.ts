// Who led when: every second the drill asks each daemon's /status whether it leads (and which term), and the
// report shows the samples folded into intervals — a gap with no leader while the group drops a dead or
// paused one, two names at once would be a split brain (the checker counts those samples).
import type { Fleet, LeadershipView } from './fleet.ts';

export interface LeaderSample {
  /** Seconds since the drill started. */
  t: number;
  /** Names of the members that said they lead now (normally zero or one). */
  leaders: string[];
  /** The leader's term; with no leader, the latest term any member knew of. */
  term: number | null;
}

export interface LeaderInterval {
  from: number;
  to: number;
  /** 'd1', 'none', or 'd0+d1' when two said so at once. */
  leader: string;
  term: number | null;
}

/** Consecutive samples with the same leader (and term) folded into one interval; `end` closes the last one. */
export function leadershipIntervals(samples: LeaderSample[], end?: number): LeaderInterval[] {
  const out: LeaderInterval[] = [];
  for (const s of samples) {
    const leader = s.leaders.length === 0 ? 'none' : [...s.leaders].sort().join('+');
    const last = out.at(-1);
    if (last && last.leader === leader && (leader === 'none' || last.term === s.term)) last.to = s.t;
    else {
      if (last) last.to = s.t;
      out.push({ from: s.t, to: s.t, leader, term: leader === 'none' ? null : s.term });
    }
  }
  const last = out.at(-1);
  if (last && end !== undefined && end > last.to) last.to = end;
  return out;
}

/** Samples in which more than one daemon said it leads. */
export function splitBrainSamples(samples: LeaderSample[]): number {
  return samples.filter((s) => s.leaders.length > 1).length;
}

export function formatIntervals(xs: LeaderInterval[]): string[] {
  return xs.map((x) => `${String(Math.round(x.from)).padStart(5)}s–${String(Math.round(x.to)).padEnd(5)} ${x.leader}${x.term !== null ? ` (term ${x.term})` : ''}`);
}

export function sampleLeadership(fleet: Fleet, started: number, everyMs = 1_000) {
  const samples: LeaderSample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const views = await Promise.all(fleet.members.map(async (m) => ({ m, l: (await fleet.status(m, 1_500))?.leadership as LeadershipView | undefined })));
      const leading = views.filter((v) => v.l?.leader);
      const terms = (leading.length ? leading.map((v) => v.l?.term ?? null) : views.map((v) => v.l?.current?.term ?? null)).filter((x): x is number => x !== null);
      samples.push({ t: Math.round((Date.now() - started) / 100) / 10, leaders: leading.map((v) => v.m.name), term: terms.length ? Math.max(...terms) : null });
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
