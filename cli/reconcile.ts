// tagstream reconcile — compares the database with the search index (one shard or all), reports drift and,
// with --repair, fixes it. Exit 0 when the index matches (or every drift was repaired), 1 otherwise.
import { loadConfig, type Config } from '../config/index.ts';
import type { ReconcileOptions, ReconcileReport } from '../features/indexing/reconcile.ts';
import { openStandalone } from '../features/indexing/standalone.ts';
import { createLogger } from '../lib/logger.ts';
import { intOption, last, parseArgs } from './args.ts';
import { callDaemon, daemonUrl, DaemonUnreachableError } from './daemon-client.ts';
import type { CommandHandler } from './commands.ts';

export const RECONCILE_USAGE = `usage: tagstream reconcile [--shard N]… [--repair] [--prefix P] [--confirm-ms N] [--json]
  compares every association row of the shard(s) (all by default) with the search index: missing, extra,
  resurrected, version drift (and index-ahead: the writers are behind). Drift is rechecked after --confirm-ms
  (default 2000) so commands in flight do not count. --repair writes the database's state into the index.
  --url <daemon url> | --standalone   --token <admin token>`;

export function formatReport(r: ReconcileReport): string[] {
  const d = r.drift;
  return [
    `shards ${r.shards.length === 1 ? r.shards[0] : `${r.shards.length} (all)`}: ${r.dbRows} database rows, ${r.indexDocs} index documents`,
    `drift: ${d.total} (missing ${d.missing}, extra ${d.extra}, resurrected ${d.resurrected}, version ${d.version}, index-ahead ${d['index-ahead']})${r.repaired || r.unrepaired ? `; repaired ${r.repaired}, not repaired ${r.unrepaired}` : ''}`,
    ...r.samples.map((s) => `  ${s.kind.padEnd(11)} ${s.id}  shard ${s.shard}  db=${s.db ? `${s.db.attached ? 'attached' : 'detached'}@${s.db.offset}` : '-'}  index=${s.index ? `${s.index.attached ? 'attached' : 'detached'}@${s.index.version}` : '-'}`),
    r.clean ? 'clean: the index holds exactly the database state' : r.unrepaired === 0 && r.repaired > 0 ? 'repaired' : 'DRIFT',
  ];
}

export async function runReconcile(args: string[], out: (s: string) => void, err: (s: string) => void, config: Readonly<Config>): Promise<number> {
  const p = parseArgs(args, { flags: ['repair', 'standalone', 'json'], values: ['shard', 'prefix', 'confirm-ms', 'url', 'token', 'sample'] });
  const shards = (p.values.get('shard') ?? []).map((s) => Number(s));
  if (shards.some((s) => !Number.isInteger(s) || s < 0 || s >= config.shards.count)) p.problems.push(`--shard: must be an integer between 0 and ${config.shards.count - 1}`);
  const confirmMs = intOption(p, 'confirm-ms', 0, 600_000);
  const sample = intOption(p, 'sample', 0, 100_000);
  if (p.problems.length > 0 || p.positional.length > 0) {
    for (const pr of p.problems) err(pr);
    if (p.positional.length) err(`unexpected: ${p.positional.join(' ')}`);
    err(RECONCILE_USAGE);
    return 2;
  }
  const opts: ReconcileOptions = { ...(shards.length ? { shards } : {}), ...(p.flags.has('repair') ? { repair: true } : {}), ...(last(p, 'prefix') !== undefined ? { prefix: last(p, 'prefix')! } : {}), ...(confirmMs !== undefined ? { confirmMs } : {}), ...(sample !== undefined ? { sampleLimit: sample } : {}) };
  const report = async (): Promise<ReconcileReport> => {
    if (!p.flags.has('standalone')) {
      try {
        return await callDaemon<ReconcileReport>(last(p, 'url') ?? daemonUrl(config), last(p, 'token') ?? config.http.adminToken, 'POST', '/v1/reconcile', opts);
      } catch (e) {
        if (!(e instanceof DaemonUnreachableError) || config.profile === 'embedded' || last(p, 'url')) throw e;
        err(`${e.message}; working standalone on the ${config.profile} services`);
      }
    }
    const s = await openStandalone(config, createLogger({ level: 'warn', destination: process.stderr }));
    try {
      return await s.reconcile(opts);
    } finally {
      await s.close();
    }
  };
  let r: ReconcileReport;
  try {
    r = await report();
  } catch (e) {
    err(e instanceof Error ? e.message : String(e));
    return 1;
  }
  if (p.flags.has('json')) out(JSON.stringify(r, null, 2));
  else formatReport(r).forEach(out);
  return r.clean || (r.repaired > 0 && r.unrepaired === 0) ? 0 : 1;
}

export const reconcileCommand: CommandHandler = (args, out, err) => runReconcile(args, out, err, loadConfig());
