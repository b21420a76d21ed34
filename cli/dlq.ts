// tagstream dlq list | replay | park — the dead letter queue, through the running daemon (its replayer actor)
// or, with --standalone (or when no daemon answers, outside the embedded profile), straight on the services.
import type { DeadLetterView } from '../actors/dlq/dlq-record.ts';
import type { PassOptions, PassResult } from '../actors/dlq/replayer.ts';
import { loadConfig, type Config } from '../config/index.ts';
import { openStandalone } from '../features/indexing/standalone.ts';
import { parseSince } from '../features/indexing/routes.ts';
import { createLogger } from '../lib/logger.ts';
import { intOption, last, parseArgs } from './args.ts';
import { callDaemon, daemonUrl, DaemonUnreachableError } from './daemon-client.ts';
import type { CommandHandler } from './commands.ts';

export const DLQ_USAGE = `usage: tagstream dlq <list|replay|park> [options]
  list     pending dead letters (--all: every one still in the topic; --parked: the parking topic)
           [--all] [--parked] [--since <time|15m|2h|1d>] [--limit N]
  replay   re-drive pending dead letters to the consumer that failed them, rate-limited; failing ones go back
           to the DLQ, and to the parking topic (with an alert) after dlq.maxReplays
           [--dry-run] [--since <time>] (re-drives handled ones again too) [--limit N]
  park     move pending dead letters to the parking topic without re-driving them  [--dry-run] [--limit N]
common:    --url <daemon url> (default from http.host/port; a follower's 409 sends the request on to the leader)
           | --standalone (straight on the services; replay and park refuse while daemons run, unless --force)
           --token <admin token>   --json`;

type Out = (s: string) => void;

export function formatDeadLetter(v: DeadLetterView): string {
  const reason = v.parkedReason ? ` parked: ${v.parkedReason}` : ` reason: ${v.message}`;
  return `#${v.partition}:${v.offset}  ${v.source.topic}[${v.source.partition}]@${v.source.offset}  ${v.consumer}  ${v.errorClass}/${v.code}  attempts=${v.attempts} replays=${v.replays}  last=${v.lastFailureAt}  key=${v.key ?? ''}${reason}`;
}

function formatPass(r: PassResult): string[] {
  const lines = r.plan
    ? [`dry run: ${r.plan.length} pending dead letter(s) would be ${r.action === 'park' ? 'parked' : 're-driven'}:`, ...r.plan.map((p) => `  ${formatDeadLetter(p)}  → ${p.targets.length ? p.targets.join(', ') : 'parking (no re-drive target)'}`)]
    : [`${r.action}: replayed ${r.replayed}, failed again ${r.failed}, parked ${r.parked}, held ${r.held}, skipped ${r.skipped}, remaining ${r.remaining}${r.stoppedBecause ? ` (stopped: ${r.stoppedBecause})` : ''}`];
  return lines;
}

export async function runDlq(args: string[], out: Out, err: Out, config: Readonly<Config>): Promise<number> {
  const p = parseArgs(args, { flags: ['all', 'parked', 'dry-run', 'standalone', 'json', 'force'], values: ['since', 'limit', 'url', 'token'] });
  const limit = intOption(p, 'limit', 1, 1_000_000);
  let since: number | undefined;
  try {
    since = parseSince(last(p, 'since'), Date.now());
  } catch (e) {
    p.problems.push((e as Error).message);
  }
  const [sub, ...extra] = p.positional;
  if (!sub || !['list', 'replay', 'park'].includes(sub) || p.problems.length > 0 || extra.length > 0) {
    for (const pr of p.problems) err(pr);
    err(DLQ_USAGE);
    return 2;
  }
  const json = p.flags.has('json');
  const print = (v: unknown, lines: string[]) => (json ? out(JSON.stringify(v, null, 2)) : lines.forEach(out));

  const viaDaemon = async (): Promise<number> => {
    const base = last(p, 'url') ?? daemonUrl(config);
    const token = last(p, 'token') ?? config.http.adminToken;
    if (sub === 'list') {
      const q = new URLSearchParams({ ...(limit ? { limit: String(limit) } : {}), ...(p.flags.has('all') ? { all: 'true' } : {}), ...(p.flags.has('parked') ? { parked: 'true' } : {}), ...(since !== undefined ? { since: String(since) } : {}) });
      const r = await callDaemon<{ records: DeadLetterView[] }>(base, token, 'GET', `/v1/dlq?${q}`);
      print(r, [`${r.records.length} dead letter(s)`, ...r.records.map(formatDeadLetter)]);
      return 0;
    }
    const body = { ...(p.flags.has('dry-run') ? { dryRun: true } : {}), ...(since !== undefined ? { since } : {}), ...(limit ? { limit } : {}) };
    const r = await callDaemon<PassResult>(base, token, 'POST', `/v1/dlq/${sub}`, body);
    print(r, formatPass(r));
    return 0;
  };

  const standalone = async (): Promise<number> => {
    const s = await openStandalone(config, createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level, destination: process.stderr }));
    try {
      if (sub === 'list') {
        const records = await s.replayer.list({ ...(limit ? { limit } : {}), ...(p.flags.has('all') ? { all: true } : {}), ...(p.flags.has('parked') ? { parked: true } : {}), ...(since !== undefined ? { since } : {}) });
        print({ records }, [`${records.length} dead letter(s)`, ...records.map(formatDeadLetter)]);
        return 0;
      }
      // Passes are a singleton of the deployment's failover leader: beside running daemons a standalone pass would
      // re-drive, park and alert a dead letter a second time. A dry run changes nothing and may always run.
      const daemons = p.flags.has('dry-run') || p.flags.has('force') ? 0 : await s.daemonsRunning();
      if (daemons > 0) {
        err(`${daemons} daemon(s) of this deployment are running: DLQ passes are their failover leader's. Run it through a daemon (tagstream dlq ${sub} --url <any daemon's URL>; a follower sends you to the leader), or pass --force if you are sure they do not replay now.`);
        return 1;
      }
      const opts: PassOptions = { action: sub === 'park' ? 'park' : 'replay', ...(p.flags.has('dry-run') ? { dryRun: true } : {}), ...(since !== undefined ? { since } : {}), ...(limit ? { limit } : {}) };
      const r = await s.replayer.pass(opts);
      print(r, formatPass(r));
      return 0;
    } finally {
      await s.close();
    }
  };

  if (p.flags.has('standalone')) return standalone();
  try {
    return await viaDaemon();
  } catch (e) {
    if (!(e instanceof DaemonUnreachableError)) throw e;
    if (config.profile === 'embedded' || last(p, 'url')) {
      err(`${e.message}: start the daemon (npm start) or pass --url`);
      return 1;
    }
    err(`${e.message}; working standalone on the ${config.profile} services`);
    return standalone();
  }
}

export const dlqCommand: CommandHandler = (args, out, err) => runDlq(args, out, err, loadConfig());
