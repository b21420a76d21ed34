// Where every launched service lives: ports from config/local-layout.ts, directories under services.runDir,
// downloads under services.cacheDir. Pure: computing a layout touches nothing.
import path from 'node:path';
import { esPort, esTransportPort, kafkaControllerPort, kafkaPort, pgPort, redisPort } from '../config/local-layout.ts';
import type { Config } from '../config/index.ts';

export type ServicesConfig = Config['services'];

export interface PgNodeSpec {
  cluster: number;
  node: number;
  /** pg0-n1: also the replica's application_name. */
  name: string;
  /** pg0_n1: the physical replication slot that feeds this node when it is a replica. */
  slot: string;
  port: number;
  dataDir: string;
  logFile: string;
}

export interface PgClusterSpec {
  cluster: number;
  name: string;
  dir: string;
  nodes: PgNodeSpec[];
}

export interface RedisSpec {
  index: number;
  name: string;
  port: number;
  dir: string;
  pidFile: string;
  logFile: string;
}

export interface KafkaSpec {
  version: string;
  port: number;
  controllerPort: number;
  dir: string;
  dataDir: string;
  pidFile: string;
  logFile: string;
  libDir: string;
  heapMb: number;
}

export interface EsSpec {
  version: string;
  port: number;
  transportPort: number;
  user: string;
  dir: string;
  confDir: string;
  dataDir: string;
  logsDir: string;
  pidFile: string;
  logFile: string;
  homeDir: string;
  zipFile: string;
  heapMb: number;
}

export interface ServicesLayout {
  runDir: string;
  cacheDir: string;
  pgBin: string;
  pgUser: string;
  database: string;
  javaHome: string | undefined;
  takeOver: boolean;
  pg: PgClusterSpec[];
  redis: RedisSpec[];
  kafka: KafkaSpec;
  es: EsSpec;
}

export function servicesLayout(s: ServicesConfig): ServicesLayout {
  const pgDir = path.join(s.runDir, 'pg');
  const pg = Array.from({ length: s.pgClusters }, (_, c): PgClusterSpec => {
    const dir = path.join(pgDir, `c${c}`);
    const nodes = Array.from({ length: s.replicasPerCluster + 1 }, (_, n): PgNodeSpec => ({
      cluster: c,
      node: n,
      name: `pg${c}-n${n}`,
      slot: `pg${c}_n${n}`,
      port: pgPort(s, c, n),
      dataDir: path.join(dir, `n${n}`),
      logFile: path.join(dir, `n${n}.log`),
    }));
    return { cluster: c, name: `pg${c}`, dir, nodes };
  });
  const redis = Array.from({ length: s.redisInstances }, (_, i): RedisSpec => {
    const dir = path.join(s.runDir, 'redis', `r${i}`);
    return { index: i, name: `redis${i}`, port: redisPort(s, i), dir, pidFile: path.join(dir, 'redis.pid'), logFile: path.join(dir, 'redis.log') };
  });
  const kafkaDir = path.join(s.runDir, 'kafka');
  const esDir = path.join(s.runDir, 'es');
  const esHome = path.join(s.cacheDir, `elasticsearch-${s.esVersion}`);
  return {
    runDir: s.runDir,
    cacheDir: s.cacheDir,
    pgBin: s.pgBin,
    pgUser: 'postgres',
    database: 'tagstream',
    javaHome: s.javaHome,
    takeOver: s.takeOver,
    pg,
    redis,
    kafka: {
      version: s.kafkaVersion,
      port: kafkaPort(s),
      controllerPort: kafkaControllerPort(s),
      dir: kafkaDir,
      dataDir: path.join(kafkaDir, 'data'),
      pidFile: path.join(kafkaDir, 'kafka.pid'),
      logFile: path.join(kafkaDir, 'kafka.out'),
      libDir: path.join(s.cacheDir, `kafka-libs-${s.kafkaVersion}`),
      heapMb: s.kafkaHeapMb,
    },
    es: {
      version: s.esVersion,
      port: esPort(s),
      transportPort: esTransportPort(s),
      user: s.esUser,
      dir: esDir,
      confDir: path.join(esDir, 'config'),
      dataDir: path.join(esDir, 'data'),
      logsDir: path.join(esDir, 'logs'),
      pidFile: path.join(esDir, 'es.pid'),
      logFile: path.join(esDir, 'es.out'),
      homeDir: esHome,
      zipFile: path.join(s.cacheDir, 'downloads', `elasticsearch-${s.esVersion}.zip`),
      heapMb: s.esHeapMb,
    },
  };
}

export function pgNode(l: ServicesLayout, cluster: number, node: number): PgNodeSpec {
  const spec = l.pg[cluster]?.nodes[node];
  if (!spec) throw new RangeError(`no PostgreSQL node pg${cluster}-n${node} in this layout`);
  return spec;
}

export function redisSpec(l: ServicesLayout, index: number): RedisSpec {
  const spec = l.redis[index];
  if (!spec) throw new RangeError(`no Redis instance redis${index} in this layout`);
  return spec;
}
