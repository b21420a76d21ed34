// Creating data directories. A cluster is seeded from its own template (initdb + CREATE DATABASE, cleanly shut
// down, made once): a file copy of a cleanly stopped primary is a valid base for a standby, so rebuilding a
// cluster is three copies and three starts instead of initdb + pg_basebackup under a loaded machine.
// pg_basebackup remains for re-seeding one replica from a running primary.
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PgClusterSpec, PgNodeSpec, ServicesLayout } from '../layout.ts';
import { run } from '../proc.ts';
import { INCLUDES } from './conf.ts';
import { asPostgres, ownedDir } from './node.ts';
import { conninfo, literal, query } from './sql.ts';

const MARKER = '.tagstream-template';

export function templateDir(l: ServicesLayout, cluster: PgClusterSpec): string {
  return path.join(l.runDir, 'pg', `template-c${cluster.cluster}`);
}

/** The cluster's template data directory: initdb, our settings, the database; stopped cleanly. */
export async function ensureTemplate(l: ServicesLayout, cluster: PgClusterSpec): Promise<string> {
  const dir = templateDir(l, cluster);
  if (existsSync(path.join(dir, MARKER))) return dir;
  rmSync(dir, { recursive: true, force: true });
  await ownedDir(l, dir);
  await asPostgres(l, 'initdb', ['-D', dir, '-U', 'postgres', '--auth=trust', '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C']);
  appendFileSync(path.join(dir, 'postgresql.conf'), INCLUDES);
  // Single-user mode: no port, no socket; on end of input it writes a shutdown checkpoint (a clean stop).
  const postgres = path.join(l.pgBin, 'postgres');
  await run('sh', ['-c', `echo 'CREATE DATABASE ${l.database};' | ${postgres} --single -D '${dir}' postgres`], { user: l.pgUser, timeoutMs: 120_000 });
  writeFileSync(path.join(dir, MARKER), `${new Date().toISOString()}\n`);
  return dir;
}

/** Copies the template to a node; with `primaryPort` the copy becomes a standby of that primary. */
export async function seedFromTemplate(l: ServicesLayout, template: string, spec: PgNodeSpec, primaryPort?: number): Promise<void> {
  rmSync(spec.dataDir, { recursive: true, force: true });
  await run('cp', ['-a', template, spec.dataDir], { user: l.pgUser });
  rmSync(path.join(spec.dataDir, MARKER), { force: true });
  if (primaryPort !== undefined) {
    writeFileSync(path.join(spec.dataDir, 'standby.signal'), '');
    setStandbySource(spec, primaryPort);
    await run('chown', [`${l.pgUser}:${l.pgUser}`, path.join(spec.dataDir, 'standby.signal')]);
  }
}

/** Clones a replica from a running `source` with its own slot (created beforehand, so this is repeatable). */
export async function basebackup(l: ServicesLayout, spec: PgNodeSpec, source: PgNodeSpec): Promise<void> {
  await ensureSlot(source, spec.slot);
  rmSync(spec.dataDir, { recursive: true, force: true });
  await ownedDir(l, spec.dataDir);
  await asPostgres(l, 'pg_basebackup', ['-d', conninfo(source.port, spec.name), '-D', spec.dataDir, '-R', '-X', 'stream', '-S', spec.slot, '--checkpoint=fast', '--no-sync']);
  // -R wrote standby.signal and a primary_conninfo full of libpq defaults; replace it with a plain one.
  setStandbySource(spec, source.port);
}

/** Rewrites primary_conninfo / primary_slot_name in postgresql.auto.conf of a stopped node (as ALTER SYSTEM would). */
export function setStandbySource(spec: PgNodeSpec, sourcePort: number): void {
  const file = path.join(spec.dataDir, 'postgresql.auto.conf');
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const kept = before.split('\n').filter((line) => line !== '' && !/^\s*(primary_conninfo|primary_slot_name)\s*=/.test(line));
  writeFileSync(file, [...kept, `primary_conninfo = ${literal(conninfo(sourcePort, spec.name))}`, `primary_slot_name = ${literal(spec.slot)}`, ''].join('\n'), { mode: 0o600 });
}

export async function ensureSlot(primary: PgNodeSpec, slot: string): Promise<void> {
  await query(primary, `SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, [slot]);
}
