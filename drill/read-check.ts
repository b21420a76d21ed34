// The checker's read pass: at the end of the drill every entity is read through EVERY daemon's HTTP API and
// the answer compared with the tags the command log says it has. A wrong answer (a diverged old primary, a
// stale cache, a replica that is not streaming from the current primary) is counted per daemon and per node
// that served it. Must be 0.
import type { ExpectedState } from './model.ts';

/** The attached tags of each entity the log mentions (sorted; [] for an entity whose tags were all detached). */
export function expectedTags(expected: ExpectedState, prefix = ''): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, a] of expected.assoc) {
    const bar = key.indexOf('|');
    const entity = key.slice(0, bar);
    if (!entity.startsWith(prefix)) continue;
    const tags = out.get(entity) ?? [];
    if (a.attached) tags.push(key.slice(bar + 1));
    out.set(entity, tags);
  }
  for (const tags of out.values()) tags.sort();
  return out;
}

export function sameTags(want: readonly string[], got: readonly string[]): boolean {
  if (want.length !== got.length) return false;
  const g = [...got].sort();
  return want.every((t, i) => t === g[i]);
}

export interface DaemonReads {
  reads: number;
  wrong: number;
  /** No 200 answer (an error, a timeout). */
  unanswered: number;
  servedBy: Record<string, number>;
  wrongBy: Record<string, number>;
  examples: string[];
}

export interface ReadTarget {
  name: string;
  url: string;
}

export type Answer = { status: number; tags?: string[]; servedBy?: string } | null;

/** Tallies one daemon's answers against the expected tags (pure: the HTTP part is in readThroughEvery). */
export function tally(want: Map<string, string[]>, answers: Map<string, Answer>): DaemonReads {
  const r: DaemonReads = { reads: 0, wrong: 0, unanswered: 0, servedBy: {}, wrongBy: {}, examples: [] };
  for (const [entity, tags] of want) {
    const a = answers.get(entity) ?? null;
    r.reads++;
    if (!a || a.status !== 200 || !a.tags) {
      r.unanswered++;
      continue;
    }
    const node = a.servedBy ?? '?';
    r.servedBy[node] = (r.servedBy[node] ?? 0) + 1;
    if (!sameTags(tags, a.tags)) {
      r.wrong++;
      r.wrongBy[node] = (r.wrongBy[node] ?? 0) + 1;
      if (r.examples.length < 5) r.examples.push(`${entity} via ${node}: want [${tags.join(',')}], got [${[...a.tags].sort().join(',')}]`);
    }
  }
  return r;
}

export async function readThroughEvery(daemons: ReadTarget[], want: Map<string, string[]>, concurrency = 8): Promise<Record<string, DaemonReads>> {
  const out: Record<string, DaemonReads> = {};
  for (const d of daemons) {
    const answers = new Map<string, Answer>();
    const entities = [...want.keys()];
    let i = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (i < entities.length) {
          const e = entities[i++]!;
          try {
            const res = await fetch(`${d.url}/v1/entities/${encodeURIComponent(e)}/tags`, { signal: AbortSignal.timeout(10_000) });
            const body = (await res.json().catch(() => null)) as { tags?: string[]; servedBy?: string } | null;
            answers.set(e, { status: res.status, ...(body?.tags ? { tags: body.tags } : {}), ...(body?.servedBy ? { servedBy: body.servedBy } : {}) });
          } catch {
            answers.set(e, null);
          }
        }
      }),
    );
    out[d.name] = tally(want, answers);
  }
  return out;
}
