// Cross-field rules. They run on the raw merged input (not only after the schema passes), so that one
// start-up reports every problem at once.

type Json = Record<string, unknown>;

const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), o);

/** Every cluster that follows Patroni needs the REST addresses of its own Patroni cluster. */
function patroniChecks(raw: Json): string[] {
  const problems: string[] = [];
  const urls = get(raw, 'failover', 'patroniUrls');
  const globalUrls = Array.isArray(urls) && urls.length > 0;
  const clusters = get(raw, 'postgres', 'clusters');
  const list: unknown[] = Array.isArray(clusters) ? clusters : [];
  const following = list.map((c, i) => ({ i, mode: get(c, 'failover', 'mode') ?? get(raw, 'failover', 'mode'), own: get(c, 'failover', 'patroniUrls') !== undefined })).filter((c) => c.mode === 'patroni');
  const onGlobal = following.filter((c) => !c.own);
  if (onGlobal.length > 0 && !globalUrls) {
    problems.push(get(raw, 'failover', 'mode') === 'patroni' && list.length <= 1 ? 'failover.patroniUrls: required when failover.mode is "patroni"' : `postgres.clusters.${onGlobal[0]!.i}.failover.patroniUrls: required for a cluster whose failover mode is "patroni" (or set failover.patroniUrls)`);
  }
  if (onGlobal.length > 1 && globalUrls) problems.push(`failover.patroniUrls: ${onGlobal.length} clusters would follow the same Patroni cluster; give each its own postgres.clusters[i].failover.patroniUrls`);
  return problems;
}

export function crossChecks(raw: Json): string[] {
  const problems: string[] = [];
  const clusters = get(raw, 'postgres', 'clusters');
  const names = new Set(Array.isArray(clusters) ? clusters.map((c) => get(c, 'name')) : []);
  if (Array.isArray(clusters) && names.size !== clusters.length) problems.push('postgres.clusters: cluster names must be unique');
  const count = get(raw, 'shards', 'count');
  const map = get(raw, 'shards', 'map');
  if (map && typeof map === 'object') {
    for (const [shard, cluster] of Object.entries(map as Json)) {
      const n = Number(shard);
      if (typeof count === 'number' && (!Number.isInteger(n) || n < 0 || n >= count)) problems.push(`shards.map.${shard}: shard must be an integer in [0, ${count})`);
      if (Array.isArray(clusters) && !names.has(cluster)) problems.push(`shards.map.${shard}: unknown cluster "${String(cluster)}"`);
    }
  }
  if (get(raw, 'profile') === 'production' && get(raw, 'faultInjection') === true) problems.push('faultInjection: fault injection is not allowed in production');
  const num = (...p: string[]) => (typeof get(raw, ...p) === 'number' ? (get(raw, ...p) as number) : undefined);
  const openMs = num('breaker', 'openMs');
  const openMaxMs = num('breaker', 'openMaxMs');
  if (openMs !== undefined && openMaxMs !== undefined && openMaxMs < openMs) problems.push('breaker.openMaxMs: must be ≥ breaker.openMs');
  const rInit = num('retry', 'initialMs');
  const rMax = num('retry', 'maxMs');
  if (rInit !== undefined && rMax !== undefined && rMax < rInit) problems.push('retry.maxMs: must be ≥ retry.initialMs');
  for (const loop of ['sinkPrepare', 'sinkRewind', 'logRedelivery', 'startup']) {
    const init = num('retryLoops', loop, 'initialMs');
    const max = num('retryLoops', loop, 'maxMs');
    if (init !== undefined && max !== undefined && max < init) problems.push(`retryLoops.${loop}.maxMs: must be ≥ retryLoops.${loop}.initialMs`);
  }
  const inFlight = num('writer', 'groupCommit', 'maxInFlight');
  const pool = num('postgres', 'poolSize');
  if (inFlight !== undefined && pool !== undefined && inFlight > pool) problems.push(`writer.groupCommit.maxInFlight: must be ≤ postgres.poolSize (${pool}): each transaction holds a connection of the primary`);
  problems.push(...patroniChecks(raw));
  const topic = get(raw, 'kafka', 'topic');
  if (topic !== undefined && topic === get(raw, 'kafka', 'dlqTopic')) problems.push('kafka.dlqTopic: must differ from kafka.topic');
  return problems;
}
