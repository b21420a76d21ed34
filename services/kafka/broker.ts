// The local Kafka broker: one KRaft node (broker + controller) run from Maven Central jars with `java -cp`.
// Storage is formatted once; the broker is detached with a pidfile and is ready when a client sees it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { fixIdleRequestQueueTimer } from '../../adapters/kafka/request-queue-fix.ts';
import { javaBin, resolveJavaHome } from '../java.ts';
import type { KafkaSpec, ServicesLayout } from '../layout.ts';
import { isAlive, readPid, run, spawnDetached, terminate, waitFor, writePid } from '../proc.ts';
import { claimPort } from '../ports.ts';
import { fetchKafkaLibs } from './fetch.ts';

export function kafkaPid(spec: KafkaSpec): number | undefined {
  const pid = readPid(spec.pidFile);
  return isAlive(pid) ? pid : undefined;
}

function serverProperties(spec: KafkaSpec): string {
  return `# Written by tagstream services/: single-node KRaft broker + controller on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${spec.controllerPort}
listeners=PLAINTEXT://127.0.0.1:${spec.port},CONTROLLER://127.0.0.1:${spec.controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${spec.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${spec.dataDir}
num.partitions=8
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
# A restarted (killed) broker must wait for its old registration to expire before it can register again.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
`;
}

const LOG4J = `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=\${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
`;

/** Resolves once the broker answers metadata requests (and so accepts topic creation and produce). */
export async function waitKafkaReady(spec: KafkaSpec, timeoutMs: number): Promise<void> {
  fixIdleRequestQueueTimer(); // kafkajs' 1 ms idle timer (TimeoutNegativeWarning): see the adapter's fix
  const kafka = new Kafka({ clientId: 'tagstream-services', brokers: [`127.0.0.1:${spec.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1_000 });
  await waitFor(`kafka on ${spec.port}`, async () => {
    if (kafkaPid(spec) === undefined) throw new Error(`broker exited: see ${spec.logFile} and ${spec.dir}/logs/server.log`);
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0 && cluster.controller !== null;
    } catch (err) {
      if (kafkaPid(spec) === undefined) throw err;
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }, { timeoutMs, intervalMs: 250 }).catch((err: unknown) => {
    throw kafkaPid(spec) === undefined ? new Error(`kafka: broker exited during start: see ${spec.logFile} and ${spec.dir}/logs/server.log`, { cause: err }) : err;
  });
}

/** The first group lookup creates __consumer_offsets; do it here so the first consumer does not wait on it. */
async function warmGroupCoordinator(spec: KafkaSpec): Promise<void> {
  fixIdleRequestQueueTimer();
  const kafka = new Kafka({ clientId: 'tagstream-services', brokers: [`127.0.0.1:${spec.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await waitFor('the kafka group coordinator', async () => {
      const { groups } = await admin.describeGroups(['tagstream-services-warmup']);
      return groups.length === 1;
    }, { timeoutMs: 60_000, intervalMs: 200 });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function ensureKafka(l: ServicesLayout, log: (line: string) => void): Promise<string> {
  const spec = l.kafka;
  if (kafkaPid(spec) !== undefined) {
    await waitKafkaReady(spec, 60_000);
    return 'left running';
  }
  const fetched = await fetchKafkaLibs(spec, log);
  for (const port of [spec.port, spec.controllerPort]) await claimPort(port, 'kafka', { runDir: l.runDir, takeOver: l.takeOver, log });
  const java = javaBin(await resolveJavaHome(l.javaHome));
  mkdirSync(path.join(spec.dir, 'logs'), { recursive: true });
  const props = path.join(spec.dir, 'server.properties');
  writeFileSync(props, serverProperties(spec));
  writeFileSync(path.join(spec.dir, 'log4j.properties'), LOG4J);
  const jvm = ['-cp', `${spec.libDir}/*`, `-Dlog4j.configuration=file:${path.join(spec.dir, 'log4j.properties')}`, `-Dkafka.logs.dir=${path.join(spec.dir, 'logs')}`, '-Djava.awt.headless=true'];
  if (!existsSync(path.join(spec.dataDir, 'meta.properties'))) {
    // Cluster ids are 16 random bytes in URL-safe base64 without padding (what `kafka-storage random-uuid` prints).
    // A Kafka cluster id is 16 bytes in base64url; one that starts with '-' reads as an option to the storage
    // tool's argument parser (it failed CI on a fresh machine), so the value is attached with '='.
    const clusterId = randomBytes(16).toString('base64url');
    await run(java, ['-Xmx256m', '-XX:TieredStopAtLevel=1', ...jvm, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, `--config=${props}`, '--ignore-formatted'], { timeoutMs: 120_000 });
  }
  const pid = spawnDetached(java, [`-Xms${Math.min(256, spec.heapMb)}m`, `-Xmx${spec.heapMb}m`, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:+ExitOnOutOfMemoryError', ...jvm, 'kafka.Kafka', props], { logFile: spec.logFile, cwd: spec.dir });
  writePid(spec.pidFile, pid);
  await waitKafkaReady(spec, 120_000);
  await warmGroupCoordinator(spec);
  return fetched ? 'fetched, started' : 'started';
}

export async function stopKafka(spec: KafkaSpec): Promise<void> {
  const pid = kafkaPid(spec);
  if (pid !== undefined) await terminate(pid, { graceMs: 30_000 });
  rmSync(spec.pidFile, { force: true });
}

/** SIGKILL: the broker dies without flushing; on restart it recovers its logs. */
export async function killKafka(spec: KafkaSpec): Promise<void> {
  const pid = kafkaPid(spec);
  if (pid !== undefined) await terminate(pid, { signal: 'SIGKILL', graceMs: 10_000 });
  rmSync(spec.pidFile, { force: true });
}
