// npm run services -- up|down|status|reset [pg|redis|kafka|es|patroni …] [--patroni]
// Starts the real backing services of the `local` profile on loopback (ports from config/local-layout.ts).
import { loadConfig } from '../config/index.ts';
import { systemClock } from '../lib/clock.ts';
import { ensureServices, OPTIONAL_KINDS, SERVICE_KINDS, type ServiceKind } from './ensure.ts';
import { formatStatus, resetServices, servicesStatus, stopServices } from './status.ts';

const KINDS: readonly string[] = [...SERVICE_KINDS, ...OPTIONAL_KINDS];
const USAGE = `usage: npm run services -- <up|down|status|reset> [${KINDS.join('|')} …] [--patroni]
  up      start whatever is not running (idempotent), wait until ready, print addresses;
          the Patroni-managed cluster (patroni + etcd) only when named, or with --patroni on top of the rest
  down    stop everything gracefully (SIGKILL after a grace period)
  status  each service: state/role, pid, port
  reset   down, then wipe the run directory (downloads are kept)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const withPatroni = args.includes('--patroni');
  const rest = args.filter((a) => a !== '--patroni');
  const unknown = rest.filter((k) => !KINDS.includes(k));
  if (!command || unknown.length > 0) {
    console.error(unknown.length ? `unknown service: ${unknown.join(', ')}\n${USAGE}` : USAGE);
    return 2;
  }
  const named = rest.length > 0 ? (rest as ServiceKind[]) : [...SERVICE_KINDS];
  const only = withPatroni ? [...new Set<ServiceKind>([...named, 'patroni'])] : rest.length > 0 ? named : undefined;
  const config = loadConfig({ overrides: { profile: 'local' } });
  const t0 = systemClock.now();
  const log = (line: string) => console.log(line);
  switch (command) {
    case 'up':
      await ensureServices(config, { only, log });
      console.log(`up in ${((systemClock.now() - t0) / 1000).toFixed(1)} s`);
      return 0;
    case 'down':
      await stopServices(config);
      console.log(`down in ${((systemClock.now() - t0) / 1000).toFixed(1)} s`);
      return 0;
    case 'status':
      console.log(formatStatus(await servicesStatus(config)));
      return 0;
    case 'reset':
      await resetServices(config);
      console.log(`reset (stopped everything, wiped ${config.services.runDir})`);
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
