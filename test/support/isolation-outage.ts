// What the isolation chaos tests (issue 17) share: the healthy cluster's applied rate in windows, HTTP writes to
// both clusters through the outage, the broker's "removing member" lines for a group, and an entity on a cluster.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { clusterOfShard } from '../../actors/tree.ts';
import type { Config } from '../../config/index.ts';
import { shardOf } from '../../lib/command.ts';

export const OUTAGE_S = Number(process.env.ISOLATION_OUTAGE_S ?? 60);
export const WINDOW_S = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** When the broker logged a line ("[2026-12-05 05:30:06,809] …", the machine's local time), in ms. */
function brokerTime(line: string): number {
  const m = /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})\]/.exec(line);
  return m ? new Date(`${m[1]}T${m[2]}.${m[3]}`).getTime() : NaN;
}

/**
 * The broker's "removing member" lines for `groupId` (a member lost on heartbeat expiration, or rebalance
 * churn), logged at or after `sinceMs` when given (a fleet's start-up is not the outage's doing).
 */
export function removedMembers(config: Pick<Config, 'services'>, groupId: string, sinceMs?: number): string[] {
  const file = path.join(config.services.runDir, 'kafka', 'logs', 'server.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`group ${groupId} `) && l.includes('removing member'))
    .filter((l) => sinceMs === undefined || !(brokerTime(l) < sinceMs - 1_000));
}

/** The first entity `${prefix}http-${tag}-i` whose shard lives on `cluster`. */
export function entityOn(config: Readonly<Config>, prefix: string, cluster: string, tag: string): string {
  for (let i = 0; ; i++) if (clusterOfShard(config, shardOf(`${prefix}http-${tag}-${i}`, config.shards.count)) === cluster) return `${prefix}http-${tag}-${i}`;
}

/** Per second over one window: commands applied on the healthy cluster, and commands offered to it (produced). */
export interface Rates {
  applied: number;
  offered: number;
}

/** Counters sampled at a window's ends: applied (e.g. a metric summed over daemons) and offered (the load's count). */
export type RateSample = () => Promise<Rates> | Rates;

/** Rates over one window of WINDOW_S. */
export async function rateOver(sample: RateSample): Promise<Rates> {
  const a = await sample();
  const t0 = Date.now();
  await sleep(WINDOW_S * 1_000);
  const b = await sample();
  // Over the time that really passed between the two readings (a scrape of a starved daemon can take seconds).
  const s = (Date.now() - t0) / 1000;
  return { applied: (b.applied - a.applied) / s, offered: (b.offered - a.offered) / s };
}

/** Windows of WINDOW_S from `startedS` seconds into the outage until OUTAGE_S. */
export async function outageWindows(sample: RateSample, startedS: number): Promise<Rates[]> {
  const windows: Rates[] = [];
  for (let t = startedS; t + WINDOW_S <= OUTAGE_S; t += WINDOW_S) windows.push(await rateOver(sample));
  return windows;
}

/**
 * The healthy cluster keeps its rate: in every window it applies ≥ 0.9 of what the (open-loop) load offered it
 * then — the offered rate is the rate it had before the outage unless the load generator itself was starved,
 * which `vsBefore` (printed) shows.
 */
export function keepsUp(before: Rates, windows: Rates[]): { keptUp: number[]; vsBefore: number[]; offeredVsBefore: number[] } {
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    keptUp: windows.map((w) => r(w.offered > 0 ? w.applied / w.offered : 0)),
    vsBefore: windows.map((w) => r(w.applied / before.applied)),
    offeredVsBefore: windows.map((w) => r(w.offered / before.offered)),
  };
}

/** Every window kept up with the load (≥ 0.9 of what was offered), and the load was really offered (≥ 0.8 of before). */
export function expectKeptUp(before: Rates, windows: Rates[]): void {
  const k = keepsUp(before, windows);
  if (windows.length === 0) throw new Error('no window measured during the outage');
  const bad = windows.filter((_, i) => !(k.keptUp[i]! >= 0.9 && k.offeredVsBefore[i]! >= 0.8));
  if (bad.length > 0) throw new Error(`the healthy cluster did not keep up: ${JSON.stringify({ before, windows, ...k })}`);
}

export interface HttpAnswer {
  cluster: string;
  via: number;
  status: number;
  held?: string;
  /** The phase of the outage when the write was sent (see mark()). */
  phase: string;
}

/**
 * `wait=applied` writes to an entity of each cluster through each of `send`'s targets, a round every 2 s after
 * the previous one answered, until stop().
 * `send(target, url)` posts and answers the status and the x-tagstream-held header.
 */
export function writesThroughOutage(targets: number, clusters: string[], url: (cluster: string, i: number) => string, send: (target: number, url: string) => Promise<{ status: number; held?: string }>) {
  const answers: HttpAnswer[] = [];
  let going = true;
  let phase = 'start';
  const loop = (async () => {
    for (let i = 0; going; i++) {
      // All at once: a write that waits out its timeout (before the hold begins) does not delay the others.
      const sentIn = phase;
      const round = [];
      for (let via = 0; via < targets; via++) {
        for (const cluster of clusters) {
          round.push(send(via, url(cluster, i * targets + via)).then((r) => answers.push({ cluster, via, status: r.status, ...(r.held !== undefined ? { held: r.held } : {}), phase: sentIn })));
        }
      }
      await Promise.all(round);
      await sleep(2_000);
    }
  })();
  return {
    answers,
    /** Later writes are recorded under `label` (e.g. 'held' once the hold began). */
    mark(label: string): void {
      phase = label;
    },
    async stop(): Promise<HttpAnswer[]> {
      going = false;
      await loop;
      return answers;
    },
  };
}
