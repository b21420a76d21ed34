// Failover moves on a launched cluster, for chaos tests and the local profile: promote a replica, point the
// other replica at it, and re-seed the old primary as a replica with pg_rewind (measured recipes: SERVICES.md).
import { appendFileSync } from 'node:fs';
import type { PgNodeSpec, ServicesLayout } from '../layout.ts';
import { run, waitFor } from '../proc.ts';
import { clearStaleLock, nodeRole, postmasterPid, startNode, stopNode } from './node.ts';
import { basebackup, ensureSlot, setStandbySource } from './seed.ts';
import { conninfo, literal, query, queryOne } from './sql.ts';

/** pg_promote on a replica; resolves once it accepts writes. */
export async function promote(spec: PgNodeSpec): Promise<void> {
  await query(spec, 'SELECT pg_promote(true, 60)', [], { timeoutMs: 65_000 });
  await waitFor(`${spec.name} to be primary`, async () => (await nodeRole(spec)) === 'primary', { timeoutMs: 10_000, intervalMs: 20 });
}

/** Points a running replica at another primary without a restart (it follows the new timeline). */
export async function repointReplica(replica: PgNodeSpec, newPrimary: PgNodeSpec, opts: { wait?: boolean } = {}): Promise<void> {
  // Slots are not copied to replicas: the new primary needs one for this replica.
  await ensureSlot(newPrimary, replica.slot);
  await query(replica, `ALTER SYSTEM SET primary_conninfo = ${literal(conninfo(newPrimary.port, replica.name))}`);
  await query(replica, `ALTER SYSTEM SET primary_slot_name = ${literal(replica.slot)}`);
  await query(replica, 'SELECT pg_reload_conf()');
  if (opts.wait ?? true) await waitStreaming(newPrimary, [replica], 30_000);
}

/** Waits until every replica in `replicas` streams from `primary` (by application_name). */
export async function waitStreaming(primary: PgNodeSpec, replicas: readonly PgNodeSpec[], timeoutMs = 30_000): Promise<void> {
  const names = replicas.map((r) => r.name);
  await waitFor(`${names.join(', ')} streaming from ${primary.name}`, async () => {
    const rows = await query<{ application_name: string }>(primary, `SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'`, [], { timeoutMs: 2_000 });
    return names.every((n) => rows.some((r) => r.application_name === n));
  }, { timeoutMs, intervalMs: 50 });
}

export type RewindMethod = 'pg_rewind' | 'basebackup';

/**
 * Turns a former primary (dead, frozen or still running: it is stopped first) into a replica of `newPrimary`.
 * pg_rewind when it can; a fresh pg_basebackup when pg_rewind cannot (e.g. the WAL it needs is gone).
 */
export async function rewindAsReplica(l: ServicesLayout, node: PgNodeSpec, newPrimary: PgNodeSpec): Promise<RewindMethod> {
  if (postmasterPid(node) !== undefined) await stopNode(l, node);
  clearStaleLock(node);
  // Without a checkpoint pg_rewind may read a stale timeline from the new primary's control file and say
  // "no rewind required" while the old primary has diverged.
  await query(newPrimary, 'CHECKPOINT', [], { timeoutMs: 60_000 });
  await ensureSlot(newPrimary, node.slot);
  return reseedWith({
    rewind: async () => {
      const r = await run(`${l.pgBin}/pg_rewind`, ['-D', node.dataDir, `--source-server=${conninfo(newPrimary.port)} dbname=postgres`, '-R', '--no-sync'], { user: l.pgUser, check: false, timeoutMs: 300_000 });
      // pg_rewind copied the source's postgresql.auto.conf: state this node's own source and slot again.
      if (r.code === 0) setStandbySource(node, newPrimary.port);
      return r.code === 0 ? null : r.stderr;
    },
    start: (wait) => startNode(l, node, { wait }),
    streaming: () => waitStreaming(newPrimary, [node], 30_000),
    stop: () => stopNode(l, node),
    basebackup: () => basebackup(l, node, newPrimary),
    // Kept next to the node's server log; the caller learns the method that worked.
    note: (line) => appendFileSync(node.logFile, `\n[tagstream services] ${line}\n`),
  });
}

export interface ReseedSteps {
  /** null when pg_rewind worked, else its reason. */
  rewind(): Promise<string | null>;
  start(wait: boolean): Promise<void>;
  /** Resolves once the node streams from the new primary; rejects after a bounded wait. */
  streaming(): Promise<void>;
  stop(): Promise<void>;
  basebackup(): Promise<void>;
  note(line: string): void;
}

/**
 * pg_rewind, then a bounded chance to stream; a fresh base backup when either fails. A rewound node replays
 * from the last checkpoint before the divergence: when the new primary has already recycled that WAL
 * ("requested WAL segment … has already been removed") it never becomes consistent, and waiting for its
 * connections would hold the re-seed for minutes.
 */
export async function reseedWith(steps: ReseedSteps): Promise<RewindMethod> {
  const failed = await steps.rewind();
  if (failed === null) {
    await steps.start(false);
    try {
      await steps.streaming();
      return 'pg_rewind';
    } catch (err) {
      steps.note(`the rewound node did not stream (${err instanceof Error ? err.message : String(err)}); re-seeding with pg_basebackup`);
      await steps.stop();
    }
  } else {
    steps.note(`pg_rewind failed, re-seeding with pg_basebackup:\n${failed}`);
  }
  await steps.basebackup();
  await steps.start(true);
  await steps.streaming();
  return 'basebackup';
}

/** WAL positions, for tests that compare replicas (pg_last_wal_receive_lsn / replay LSN). */
export async function replicaLsns(spec: PgNodeSpec): Promise<{ receive: string | null; replay: string | null }> {
  return queryOne<{ receive: string | null; replay: string | null }>(spec, 'SELECT pg_last_wal_receive_lsn()::text AS receive, pg_last_wal_replay_lsn()::text AS replay');
}
