// Failover operator commands against the running daemon (POST /admin/…, with the admin token):
//   tagstream reseed <cluster> <node>   re-seed a diverged old primary as a replica of the primary, then route
//                                       reads to it (local profile: pg_rewind by services/; Patroni: its
//                                       reinitialize; production: prints the manual procedure)
//   tagstream adopt <cluster> <node>    route reads to a node re-seeded by hand
// Options: --url <daemon url> (default from http.host/port), --token <admin token> (default http.adminToken), --json.
import { loadConfig } from '../config/index.ts';
import { last, parseArgs } from './args.ts';
import type { CommandHandler } from './commands.ts';
import { callDaemon, daemonUrl, DaemonUnreachableError } from './daemon-client.ts';

interface Topology {
  primary: string;
  replicas: string[];
  fenced: string[];
}
interface ReseedAnswer {
  cluster: string;
  node: string;
  primary: string;
  done: boolean;
  method: string;
  message: string;
  topology?: Topology;
  procedure?: string[];
}

const topo = (t: Topology) => `primary ${t.primary}, replicas ${t.replicas.join(', ') || 'none'}${t.fenced.length ? `, fenced ${t.fenced.join(', ')}` : ''}`;

function command(name: 'reseed' | 'adopt', describe: (r: never, out: (s: string) => void) => void): CommandHandler {
  const usage = `usage: tagstream ${name} <cluster> <node>  [--url <daemon>] [--token <admin token>] [--json]`;
  return async (args, out, err) => {
    const p = parseArgs(args, { flags: ['json'], values: ['url', 'token'] });
    const [cluster, node, ...extra] = p.positional;
    if (p.problems.length > 0 || !cluster || !node || extra.length > 0) {
      for (const pr of p.problems) err(pr);
      err(usage);
      return 2;
    }
    const config = loadConfig();
    const base = last(p, 'url') ?? daemonUrl(config);
    try {
      // A re-seed copies a data directory: minutes on a big node.
      const r = await callDaemon<never>(base, last(p, 'token') ?? config.http.adminToken, 'POST', `/admin/${name}/${encodeURIComponent(cluster)}/${encodeURIComponent(node)}`, {}, 30 * 60_000);
      if (p.flags.has('json')) out(JSON.stringify(r, null, 2));
      else describe(r, out);
      return 0;
    } catch (e) {
      err(e instanceof DaemonUnreachableError ? `${e.message}: is the daemon running? (npm start, or --url)` : (e as Error).message);
      return 1;
    }
  };
}

export const reseedCommand = command('reseed', (r: ReseedAnswer, out) => {
  out(r.message);
  if (r.topology) out(`${r.cluster}: ${topo(r.topology)}`);
  if (r.procedure) {
    out(`Manual procedure to re-seed ${r.node} from ${r.primary}:`);
    for (const step of r.procedure) out(`  ${step}`);
  }
});

export const adoptCommand = command('adopt', (r: { cluster: string; node: string; topology: Topology }, out) => out(`${r.node} adopted: ${r.cluster} is ${topo(r.topology)}`));

export const failoverCommands: Record<string, CommandHandler> = { reseed: reseedCommand, adopt: adoptCommand };
