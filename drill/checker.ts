// The checker: reads the whole command log, computes the expected final state, and compares it with every
// PostgreSQL shard, the popular-tag counters and the search index — listing missing, extra, wrong-version and
// wrong-count entries — and checks every command is accounted for: applied, or dead-lettered with a reason.
import type { CommandLog, LogRecord } from '../adapters/kafka/port.ts';
import type { ShardStore } from '../adapters/pg/port.ts';
import type { SearchIndex } from '../adapters/search/port.ts';
import type { CommandLimits } from '../lib/command.ts';
import { expectedState, type ExpectedState } from './model.ts';

export interface CheckInput {
  log: CommandLog;
  topic: string;
  dlqTopics: string[];
  stores: Iterable<ShardStore>;
  shardCount: number;
  clusterOf: (shard: number) => string;
  search?: SearchIndex;
  limits?: CommandLimits;
  /** Only entities and tags starting with this are checked (tests sharing a database). */
  prefix?: string;
}

export interface Verdict {
  commands: number;
  valid: number;
  invalid: number;
  db: { missing: string[]; extra: string[]; wrongVersion: string[]; wrongCounts: string[] };
  search: { missing: string[]; extra: string[]; wrongVersion: string[] } | null;
  /** Invalid commands with no dead-letter record naming their source position. */
  unaccounted: string[];
  /** Dead letters of valid commands (e.g. an indexing failure): their reason, by source position. */
  deadLettered: Array<{ source: string; code: string; message: string }>;
  ok: boolean;
}

export async function readTopic(log: CommandLog, topic: string, pageSize = 5_000): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (const [p, end] of await log.endOffsets(topic)) {
    let from = 0n;
    const last = BigInt(end);
    while (from < last) {
      const page = await log.read(topic, p, from.toString(), pageSize);
      if (page.length === 0) break;
      out.push(...page);
      from = BigInt(page[page.length - 1]!.offset) + 1n;
    }
  }
  return out;
}

const cap = (xs: string[], n = 200) => (xs.length > n ? [...xs.slice(0, n), `… and ${xs.length - n} more`] : xs);

export async function check(input: CheckInput): Promise<Verdict> {
  const prefix = input.prefix ?? '';
  const records = (await readTopic(input.log, input.topic)).filter((r) => prefix === '' || (r.key ?? '').startsWith(prefix));
  const expected = expectedState(records, input.limits);
  const db = await compareDb(input, expected, prefix);
  const search = input.search ? await compareSearch(input.search, expected, prefix) : null;

  const dead = new Map<string, { code: string; message: string }>();
  for (const t of input.dlqTopics) {
    for (const r of await readTopic(input.log, t)) {
      if (r.headers['x-source-topic'] !== input.topic) continue;
      dead.set(`${r.headers['x-source-partition']}:${r.headers['x-source-offset']}`, { code: r.headers['x-error-code'] ?? '', message: r.headers['x-error-message'] ?? '' });
    }
  }
  const unaccounted = expected.invalid.map((r) => `${r.partition}:${r.offset}`).filter((k) => !dead.has(k));
  const invalidKeys = new Set(expected.invalid.map((r) => `${r.partition}:${r.offset}`));
  const deadLettered = [...dead].filter(([k]) => !invalidKeys.has(k)).map(([source, d]) => ({ source, ...d }));

  const verdict: Verdict = {
    commands: records.length,
    valid: expected.valid,
    invalid: expected.invalid.length,
    db: { missing: cap(db.missing), extra: cap(db.extra), wrongVersion: cap(db.wrongVersion), wrongCounts: cap(db.wrongCounts) },
    search: search && { missing: cap(search.missing), extra: cap(search.extra), wrongVersion: cap(search.wrongVersion) },
    unaccounted: cap(unaccounted),
    deadLettered: deadLettered.slice(0, 200),
    ok: false,
  };
  verdict.ok = [db.missing, db.extra, db.wrongVersion, db.wrongCounts, unaccounted, ...(search ? [search.missing, search.extra, search.wrongVersion] : [])].every((x) => x.length === 0);
  return verdict;
}

async function compareDb(input: CheckInput, expected: ExpectedState, prefix: string) {
  const byName = new Map([...input.stores].map((s) => [s.cluster, s]));
  const seen = new Map<string, { attached: boolean; offset: bigint }>();
  const counts = new Map<string, number>();
  for (let shard = 0; shard < input.shardCount; shard++) {
    const store = byName.get(input.clusterOf(shard));
    if (!store) throw new Error(`no store for shard ${shard}`);
    for (const r of await store.shardRows(shard)) if (r.entity.startsWith(prefix)) seen.set(`${r.entity}|${r.tag}`, { attached: r.attached, offset: BigInt(r.offset) });
    for (const c of await store.shardCounts(shard)) if (c.tag.startsWith(prefix) || prefix === '') counts.set(c.tag, (counts.get(c.tag) ?? 0) + c.count);
  }
  const missing: string[] = [];
  const wrongVersion: string[] = [];
  for (const [k, want] of expected.assoc) {
    const got = seen.get(k);
    if (!got) missing.push(k);
    else if (got.attached !== want.attached || got.offset !== want.offset) wrongVersion.push(`${k}: want ${want.attached ? 'attached' : 'detached'}@${want.offset}, got ${got.attached ? 'attached' : 'detached'}@${got.offset}`);
  }
  const extra = [...seen.keys()].filter((k) => !expected.assoc.has(k));
  const wrongCounts: string[] = [];
  for (const t of new Set([...expected.counts.keys(), ...counts.keys()])) {
    if (prefix && !t.startsWith(prefix)) continue;
    const want = expected.counts.get(t) ?? 0;
    const got = counts.get(t) ?? 0;
    if (want !== got) wrongCounts.push(`${t}: want ${want}, got ${got}`);
  }
  return { missing, extra, wrongVersion, wrongCounts };
}

async function compareSearch(index: SearchIndex, expected: ExpectedState, prefix: string) {
  await index.refresh();
  const docs = new Map<string, { attached: boolean; version: bigint }>();
  for await (const d of index.scan()) if (d.doc.entity.startsWith(prefix)) docs.set(`${d.doc.entity}|${d.doc.tag}`, { attached: d.doc.attached, version: BigInt(d.version) });
  const missing: string[] = [];
  const wrongVersion: string[] = [];
  for (const [k, want] of expected.assoc) {
    const got = docs.get(k);
    // A detached association may have no document at all (never indexed as attached): that is not drift.
    if (!got) {
      if (want.attached) missing.push(k);
      continue;
    }
    if (got.attached !== want.attached || got.version !== want.offset) wrongVersion.push(`${k}: want ${want.attached ? 'attached' : 'detached'}@${want.offset}, got ${got.attached ? 'attached' : 'detached'}@${got.version}`);
  }
  const extra = [...docs].filter(([k, d]) => d.attached && !expected.assoc.has(k)).map(([k]) => k);
  return { missing, extra, wrongVersion };
}
