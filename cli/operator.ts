// Operator commands against the running daemon (its /admin routes, with the admin token from the config):
//   tagstream breaker list | force <name> <open|closed|disabled|metrics-only>
//   tagstream switchover <cluster> [--target <node>]
//   tagstream faults list | inject <name> | heal <name>          (embedded and local profiles)
//   tagstream flight-recorder [--out <file>]                      (download the flight recording)
// Common options: --url <daemon url> (default from http.host/port), --token <admin token>, --json.
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../config/index.ts';
import { last, parseArgs, type Parsed } from './args.ts';
import type { CommandHandler } from './commands.ts';
import { callDaemon, daemonUrl, DaemonUnreachableError } from './daemon-client.ts';

type Out = (s: string) => void;
const STATES = ['open', 'closed', 'disabled', 'metrics-only'];

interface BreakerRow {
  name: string;
  state: string;
  guards?: string;
  feature: string;
}
interface FaultRow {
  name: string;
  description: string;
  active: boolean;
  healable: boolean;
}

/** Parses the common options, runs `body` against the daemon, and turns failures into one line and exit 1. */
async function withDaemon(args: string[], values: string[], usage: string, err: Out, body: (p: Parsed, call: <T>(method: 'GET' | 'POST', path: string, payload?: unknown) => Promise<T>) => Promise<number>): Promise<number> {
  const p = parseArgs(args, { flags: ['json'], values: ['url', 'token', ...values] });
  if (p.problems.length > 0) {
    for (const pr of p.problems) err(pr);
    err(usage);
    return 2;
  }
  const config = loadConfig();
  const base = last(p, 'url') ?? daemonUrl(config);
  const token = last(p, 'token') ?? config.http.adminToken;
  try {
    return await body(p, (method, path, payload) => callDaemon(base, token, method, path, method === 'POST' ? (payload ?? {}) : undefined, 120_000));
  } catch (e) {
    err(e instanceof DaemonUnreachableError ? `${e.message}: is the daemon running? (npm start, or --url)` : (e as Error).message);
    return 1;
  }
}

const print = (p: Parsed, out: Out, value: unknown, lines: string[]) => (p.flags.has('json') ? out(JSON.stringify(value, null, 2)) : lines.forEach(out));

const BREAKER_USAGE = `usage: tagstream breaker list | force <name> <${STATES.join('|')}>  [--url <daemon>] [--token <admin token>] [--json]`;
export const breakerCommand: CommandHandler = (args, out, err) =>
  withDaemon(args, [], BREAKER_USAGE, err, async (p, call) => {
    const [sub, name, state, ...extra] = p.positional;
    if (sub === 'list' && name === undefined) {
      const r = await call<{ breakers: BreakerRow[] }>('GET', '/admin/breakers');
      print(p, out, r, r.breakers.length === 0 ? ['no breakers (no attached feature offers breaker control)'] : r.breakers.map((b) => `${b.name.padEnd(24)} ${b.state.padEnd(12)} ${b.guards ?? ''}`));
      return 0;
    }
    if (sub !== 'force' || !name || !state || extra.length > 0 || !STATES.includes(state)) {
      err(BREAKER_USAGE);
      return 2;
    }
    const r = await call<{ breaker: string; state: string }>('POST', `/admin/breakers/${encodeURIComponent(name)}/force`, { state });
    print(p, out, r, [`breaker ${r.breaker} forced ${r.state}`]);
    return 0;
  });

const SWITCHOVER_USAGE = 'usage: tagstream switchover <cluster> [--target <node>]  [--url <daemon>] [--token <admin token>] [--json]';
export const switchoverCommand: CommandHandler = (args, out, err) =>
  withDaemon(args, ['target'], SWITCHOVER_USAGE, err, async (p, call) => {
    const [cluster, ...extra] = p.positional;
    if (!cluster || extra.length > 0) {
      err(SWITCHOVER_USAGE);
      return 2;
    }
    const target = last(p, 'target');
    const r = await call<{ cluster: string; from?: string; to?: string }>('POST', `/admin/switchover/${encodeURIComponent(cluster)}`, target ? { target } : {});
    print(p, out, r, [r.from ? `switchover of ${r.cluster}: ${r.from} → ${r.to}` : `switchover of ${r.cluster} started: watch the failover machine on the dashboard or /status`]);
    return 0;
  });

const FAULTS_USAGE = 'usage: tagstream faults list | inject <name> | heal <name>  [--url <daemon>] [--token <admin token>] [--json]';
export const faultsCommand: CommandHandler = (args, out, err) =>
  withDaemon(args, [], FAULTS_USAGE, err, async (p, call) => {
    const [sub, name, ...extra] = p.positional;
    if (sub === 'list' && name === undefined) {
      const r = await call<{ faults: FaultRow[] }>('GET', '/admin/faults');
      print(p, out, r, r.faults.length === 0 ? ['no faults (fault injection is off, or nothing registered)'] : r.faults.map((f) => `${f.name.padEnd(24)} ${(f.active ? 'ACTIVE' : '').padEnd(7)} ${f.description}`));
      return 0;
    }
    if ((sub !== 'inject' && sub !== 'heal') || !name || extra.length > 0) {
      err(FAULTS_USAGE);
      return 2;
    }
    const r = await call<{ fault: FaultRow }>('POST', `/admin/faults/${encodeURIComponent(name)}/${sub}`);
    print(p, out, r, [`fault ${r.fault.name} ${sub === 'inject' ? 'injected' : 'healed'}`]);
    return 0;
  });

const FLIGHT_USAGE = 'usage: tagstream flight-recorder [--out <file>]  [--url <daemon>] [--json]';
export const flightRecorderCommand: CommandHandler = (args, out, err) =>
  withDaemon(args, ['out'], FLIGHT_USAGE, err, async (p) => {
    if (p.positional.length > 0) {
      err(FLIGHT_USAGE);
      return 2;
    }
    const config = loadConfig();
    const base = last(p, 'url') ?? daemonUrl(config);
    const res = await fetch(new URL('/debug/flight-recorder', base), { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`GET /debug/flight-recorder: HTTP ${res.status}`);
    const text = await res.text();
    const file = last(p, 'out') ?? /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'tagstream-flight.json';
    writeFileSync(file, text);
    const rec = JSON.parse(text) as { entries: unknown[] };
    print(p, out, { file, entries: rec.entries.length }, [`flight recording (${rec.entries.length} entries) written to ${file}`]);
    return 0;
  });

export const operatorCommands: Record<string, CommandHandler> = {
  breaker: breakerCommand,
  switchover: switchoverCommand,
  faults: faultsCommand,
  'flight-recorder': flightRecorderCommand,
};
