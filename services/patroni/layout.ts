// Where the optional Patroni-managed cluster lives: one etcd (the DCS) and three members, each a Patroni
// process (REST API) managing its own PostgreSQL. Member names are the daemon's node names for the cluster
// (`pgp-n0`…), so what Patroni reports as leader is a node tagstream knows. Pure: computing it touches nothing.
import path from 'node:path';
import { etcdPeerPort, etcdPort, patroniPgPort, patroniPort } from '../../config/local-layout.ts';
import type { PgNodeSpec, ServicesConfig } from '../layout.ts';

/** The cluster's name in the daemon's config (postgres.clusters[].name) and Patroni's scope. */
export const PATRONI_CLUSTER = 'pgp';
export const PATRONI_MEMBERS = 3;

/** Patroni's tightest settings that do not flap on this kind of machine (SERVICES.md: 6/1/2 → 5.5–6.2 s failovers). */
export interface PatroniTiming {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}
export const FAST_TIMING: PatroniTiming = { ttl: 6, loopWait: 1, retryTimeout: 2 };

export interface PatroniMemberSpec {
  index: number;
  /** pgp-n0: Patroni's member name and the daemon's node name. */
  name: string;
  restPort: number;
  /** http://127.0.0.1:<restPort> */
  url: string;
  dir: string;
  configFile: string;
  pidFile: string;
  /** Patroni's output, which includes its PostgreSQL's server log. */
  logFile: string;
  /** The member's PostgreSQL as the pg/ helpers see a node (kill, freeze, role, SQL). */
  pg: PgNodeSpec;
}

export interface EtcdSpec {
  port: number;
  peerPort: number;
  dir: string;
  dataDir: string;
  pidFile: string;
  logFile: string;
}

export interface PatroniLayout {
  cluster: string;
  dir: string;
  runDir: string;
  pgBin: string;
  pgUser: string;
  database: string;
  takeOver: boolean;
  etcd: EtcdSpec;
  members: PatroniMemberSpec[];
}

export function patroniLayout(s: ServicesConfig): PatroniLayout {
  const dir = path.join(s.runDir, 'patroni');
  const etcdDir = path.join(dir, 'etcd');
  const members = Array.from({ length: PATRONI_MEMBERS }, (_, i): PatroniMemberSpec => {
    const name = `${PATRONI_CLUSTER}-n${i}`;
    const mdir = path.join(dir, `n${i}`);
    const restPort = patroniPort(s, i);
    return {
      index: i,
      name,
      restPort,
      url: `http://127.0.0.1:${restPort}`,
      dir: mdir,
      configFile: path.join(mdir, 'patroni.yml'),
      pidFile: path.join(mdir, 'patroni.pid'),
      logFile: path.join(mdir, 'patroni.log'),
      // Patroni names a member's replication slot after it, with '-' replaced by '_'.
      pg: { cluster: -1, node: i, name, slot: name.replace(/[^a-z0-9_]/g, '_'), port: patroniPgPort(s, i), dataDir: path.join(mdir, 'data'), logFile: path.join(mdir, 'patroni.log') },
    };
  });
  return {
    cluster: PATRONI_CLUSTER,
    dir,
    runDir: s.runDir,
    pgBin: s.pgBin,
    pgUser: 'postgres',
    database: 'tagstream',
    takeOver: s.takeOver,
    etcd: { port: etcdPort(s), peerPort: etcdPeerPort(s), dir: etcdDir, dataDir: path.join(etcdDir, 'data'), pidFile: path.join(etcdDir, 'etcd.pid'), logFile: path.join(etcdDir, 'etcd.log') },
    members,
  };
}

/** A member's Patroni configuration. JSON is valid YAML, which is what Patroni reads. */
export function memberConfig(l: PatroniLayout, m: PatroniMemberSpec, timing: PatroniTiming): Record<string, unknown> {
  return {
    scope: l.cluster,
    namespace: '/tagstream/',
    name: m.name,
    log: { level: 'INFO' },
    restapi: { listen: `127.0.0.1:${m.restPort}`, connect_address: `127.0.0.1:${m.restPort}` },
    // etcd 3.4 has the v2 API off: Patroni must speak v3 (its gRPC gateway).
    etcd3: { hosts: [`127.0.0.1:${l.etcd.port}`] },
    bootstrap: {
      dcs: {
        ttl: timing.ttl,
        loop_wait: timing.loopWait,
        retry_timeout: timing.retryTimeout,
        maximum_lag_on_failover: 16 * 1024 * 1024,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            wal_level: 'replica',
            hot_standby: 'on',
            wal_log_hints: 'on',
            max_connections: 200,
            max_wal_senders: 10,
            max_replication_slots: 10,
            wal_keep_size: '128MB',
            hot_standby_feedback: 'on',
            wal_receiver_status_interval: '1s',
            wal_retrieve_retry_interval: '1s',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }],
    },
    postgresql: {
      listen: `127.0.0.1:${m.pg.port}`,
      connect_address: `127.0.0.1:${m.pg.port}`,
      data_dir: m.pg.dataDir,
      bin_dir: l.pgBin,
      pgpass: path.join(m.dir, 'pgpass'),
      authentication: { superuser: { username: 'postgres' }, replication: { username: 'postgres' }, rewind: { username: 'postgres' } },
      parameters: { unix_socket_directories: '', shared_buffers: '64MB', recovery_init_sync_method: 'syncfs', log_min_messages: 'warning' },
      pg_hba: ['host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust'],
      // Without a fast checkpoint pg_basebackup waits for a spread one: minutes before a replica exists.
      basebackup: [{ checkpoint: 'fast' }],
    },
  };
}
