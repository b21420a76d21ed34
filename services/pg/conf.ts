// The settings every launched PostgreSQL node runs with. postgresql.conf includes two files that startNode
// rewrites before every start: tagstream.conf (the cluster's settings, so a changed launcher applies to old
// data directories on their next start) and node.conf (the node's own port, so the copies made by cp,
// pg_basebackup or pg_rewind never carry another node's port).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PgNodeSpec, ServicesLayout } from '../layout.ts';
import { run } from '../proc.ts';

const CLUSTER_CONF = `# Written by tagstream services/ — settings for a local primary + async streaming replicas.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
# Write-heavy: the upserts touch random index pages of a table larger than 64 MB, and frequent checkpoints
# (max_wal_size 1GB) fill the WAL with full-page images that every replica must replay too.
shared_buffers = '256MB'
max_wal_size = '4GB'
wal_compression = lz4
wal_level = replica
wal_log_hints = on
max_wal_senders = 10
max_replication_slots = 10
max_slot_wal_keep_size = '1GB'
wal_keep_size = '128MB'
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = '1s'
wal_retrieve_retry_interval = '1s'
checkpoint_timeout = '5min'
# After a kill, fsync the data directory with one syncfs() instead of a walk that fsyncs every file (seconds here).
recovery_init_sync_method = syncfs
log_line_prefix = '%m [%p] %a '
log_min_messages = warning
`;

/** Writes tagstream.conf and node.conf into a node's data directory, owned by postgres. */
export async function writeNodeConf(l: ServicesLayout, spec: PgNodeSpec): Promise<void> {
  const files = { 'tagstream.conf': CLUSTER_CONF, 'node.conf': `port = ${spec.port}\ncluster_name = '${spec.name}'\n` };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(spec.dataDir, name), text, { mode: 0o600 });
  await run('chown', [`${l.pgUser}:${l.pgUser}`, ...Object.keys(files).map((f) => path.join(spec.dataDir, f))]);
}

/** The lines initdb's postgresql.conf gets appended, once, in the template. */
export const INCLUDES = "\ninclude_if_exists = 'tagstream.conf'\ninclude_if_exists = 'node.conf'\n";
