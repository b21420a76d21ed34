// Installs the Debian packages the real services need when they are missing (a fresh CI machine), and the
// unprivileged user that runs Elasticsearch. Idempotent and quick when everything is present: one `test -x`
// per binary, no apt call at all.
import { existsSync } from 'node:fs';
import { run, serviceError } from './proc.ts';

interface Requirement {
  /** A file whose presence means the package is installed. */
  probe: string;
  /** Candidate Debian package names, tried in order (chromium is `chromium` on Debian). */
  packages: string[];
}

export interface InstallOptions {
  pgBin: string;
  /** Also install chromium (the dashboard's browser tests need it). */
  browser?: boolean;
  /** Also install Patroni and etcd (only the Patroni-managed cluster of services/patroni needs them). */
  patroni?: boolean;
  log?: (line: string) => void;
}

function requirements(opts: InstallOptions): Requirement[] {
  const out: Requirement[] = [
    { probe: `${opts.pgBin}/postgres`, packages: ['postgresql-15'] },
    { probe: '/usr/bin/redis-server', packages: ['redis-server'] },
    { probe: '/usr/bin/java', packages: ['openjdk-17-jdk-headless'] },
    { probe: '/usr/bin/mvn', packages: ['maven'] },
    { probe: '/usr/bin/unzip', packages: ['unzip'] },
  ];
  if (opts.browser ?? true) out.push({ probe: '/usr/bin/chromium', packages: ['chromium'] });
  if (opts.patroni) out.push(...PATRONI_REQUIREMENTS);
  return out;
}

/** Patroni 3.0 from Debian runs under /usr/bin/python3 with these modules; etcd 3.4 is its DCS (etcd3 API). */
const PY = '/usr/lib/python3/dist-packages';
const PATRONI_REQUIREMENTS: Requirement[] = [
  { probe: '/usr/bin/patroni', packages: ['patroni'] },
  { probe: '/usr/bin/etcd', packages: ['etcd-server'] },
  { probe: '/usr/bin/etcdctl', packages: ['etcd-client'] },
  { probe: `${PY}/etcd/__init__.py`, packages: ['python3-etcd'] },
  { probe: `${PY}/psycopg2/__init__.py`, packages: ['python3-psycopg2'] },
];

let aptUpdated = false;

/** Installs whatever is missing. Returns the packages it installed. */
export async function installMissing(opts: InstallOptions): Promise<string[]> {
  const missing = requirements(opts).filter((r) => !existsSync(r.probe));
  if (missing.length === 0) return [];
  if (process.getuid?.() !== 0) throw serviceError(`missing ${missing.map((m) => m.packages[0]).join(', ')} and not root: install them with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    opts.log?.('apt-get update');
    await run('apt-get', ['update', '-q'], { env, timeoutMs: 300_000 });
    aptUpdated = true;
  }
  const pkgs = missing.map((m) => m.packages[0]!);
  opts.log?.(`apt-get install -y ${pkgs.join(' ')}`);
  await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { env, timeoutMs: 900_000 });
  // Debian starts the packaged default instances (5432/6379) on install; we leave them alone, ours use other ports.
  const still = missing.filter((m) => !existsSync(m.probe));
  if (still.length > 0) throw serviceError(`still missing after apt-get install: ${still.map((m) => m.probe).join(', ')}`);
  return pkgs;
}

/** Creates a system user (no home, no login) if absent. */
export async function ensureUser(name: string): Promise<void> {
  const probe = await run('id', ['-u', name], { check: false });
  if (probe.code === 0) return;
  await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name]);
}

/** uid/gid of a user (for chown and for spawning as it). */
export async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', name])).stdout.trim());
  const gid = Number((await run('id', ['-g', name])).stdout.trim());
  return { uid, gid };
}

/** Fails early, with a fix, when `user` cannot reach `dir` (e.g. a clone under /root, which is mode 700). */
export async function assertReachable(user: string, dir: string): Promise<void> {
  const probe = await run('test', ['-x', dir], { user, check: false });
  if (probe.code !== 0) {
    throw serviceError(`user ${user} cannot reach ${dir}: make its parent directories traversable (chmod o+x) or point TAGSTREAM_SERVICES__RUN_DIR / TAGSTREAM_SERVICES__CACHE_DIR somewhere else (e.g. /var/tmp/tagstream)`);
  }
}
