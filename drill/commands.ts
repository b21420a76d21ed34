// Deterministic command streams for the drill, benchmarks and tests: a small key space, lots of repeats and
// attach/detach flips, so ordering and idempotence are exercised.

/** A deterministic stream of commands over a small key space (lots of repeats, attach/detach flips). */
export function commandStream(n: number, seed = 1, opts: { entities?: number; tags?: string[]; prefix?: string } = {}): Array<{ key: string; value: string }> {
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const prefix = opts.prefix ?? '';
  const tags = (opts.tags ?? ['Critical', 'bug', 'ui', 'backend', 'p1', 'p2', 'security', 'docs']).map((t) => `${prefix}${t}`);
  const entities = opts.entities ?? 200;
  const out: Array<{ key: string; value: string }> = [];
  for (let i = 0; i < n; i++) {
    const entity = `${prefix}bug-${Math.floor(rnd() * entities)}`;
    const tag = tags[Math.floor(rnd() * tags.length)]!;
    const op = rnd() < 0.65 ? 'attach' : 'detach';
    out.push({ key: entity, value: JSON.stringify({ id: `c${seed}-${i}`, op, entity, tag, actor: 'gen', at: 1_700_000_000_000 + i }) });
  }
  return out;
}
