// The local Elasticsearch node: single-node discovery, security off, on loopback, run by an unprivileged user
// (Elasticsearch refuses root) with its config, data and logs under the run directory.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertReachable, ensureUser } from '../install.ts';
import { resolveJavaHome } from '../java.ts';
import type { EsSpec, ServicesLayout } from '../layout.ts';
import { isAlive, readPid, run, terminate, waitFor } from '../proc.ts';
import { claimPort } from '../ports.ts';
import { fetchElasticsearch } from './fetch.ts';

export function esPid(spec: EsSpec): number | undefined {
  const pid = readPid(spec.pidFile);
  return isAlive(pid) ? pid : undefined;
}

// Only settings the integ-test-zip accepts: it ships core, transport-netty4, x-pack-core, x-pack-security
// and apm — no analysis-common, painless, reindex (…_by_query) or mapper-extras modules.
function elasticsearchYml(spec: EsSpec): string {
  return `# Written by tagstream services/.
cluster.name: tagstream-local
node.name: es0
path.data: ${spec.dataDir}
path.logs: ${spec.logsDir}
network.host: 127.0.0.1
http.port: ${spec.port}
transport.port: ${spec.transportPort}
discovery.type: single-node
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
`;
}

/** The distribution's jvm.options with every relative path (gc log, heap dumps) moved into our logs dir. */
function jvmOptions(spec: EsSpec): string {
  return readFileSync(path.join(spec.homeDir, 'config', 'jvm.options'), 'utf8')
    .replace(/file=gc\.log/, `file=${path.join(spec.logsDir, 'gc.log')}`)
    .replace(/filecount=\d+,filesize=\d+m/, 'filecount=2,filesize=16m')
    .replace(/-XX:ErrorFile=hs_err_pid%p\.log/, `-XX:ErrorFile=${path.join(spec.logsDir, 'hs_err_pid%p.log')}`)
    .replace(/-XX:\+HeapDumpOnOutOfMemoryError/, '-XX:-HeapDumpOnOutOfMemoryError');
}

async function health(spec: EsSpec, timeout: string): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${spec.port}/_cluster/health?wait_for_status=yellow&timeout=${timeout}`, { signal: AbortSignal.timeout(15_000) });
  if (!res.ok) return undefined;
  const body = (await res.json()) as { status?: string };
  return body.status === 'green' || body.status === 'yellow' ? body.status : undefined;
}

export async function waitEsReady(spec: EsSpec, timeoutMs: number): Promise<void> {
  await waitFor(`elasticsearch on ${spec.port} (yellow)`, async () => {
    if (esPid(spec) === undefined) throw new Error(`elasticsearch exited: see ${spec.logFile} and ${spec.logsDir}`);
    return health(spec, '5s');
  }, { timeoutMs, intervalMs: 250 });
}

export async function ensureElasticsearch(l: ServicesLayout, log: (line: string) => void): Promise<string> {
  const spec = l.es;
  if (esPid(spec) !== undefined) {
    await waitEsReady(spec, 120_000);
    return 'left running';
  }
  const [fetched] = await Promise.all([fetchElasticsearch(spec, log), ensureUser(spec.user)]);
  const javaHome = await resolveJavaHome(l.javaHome);
  for (const port of [spec.port, spec.transportPort]) await claimPort(port, 'elasticsearch', { runDir: l.runDir, takeOver: l.takeOver, log });
  for (const dir of [spec.confDir, path.join(spec.confDir, 'jvm.options.d'), spec.dataDir, spec.logsDir]) mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(spec.confDir, 'elasticsearch.yml'), elasticsearchYml(spec));
  writeFileSync(path.join(spec.confDir, 'jvm.options'), jvmOptions(spec));
  writeFileSync(path.join(spec.confDir, 'jvm.options.d', 'heap.options'), `-Xms${Math.min(512, spec.heapMb)}m\n-Xmx${spec.heapMb}m\n`);
  copyFileSync(path.join(spec.homeDir, 'config', 'log4j2.properties'), path.join(spec.confDir, 'log4j2.properties'));
  rmSync(spec.pidFile, { force: true });
  await run('chown', ['-R', `${spec.user}:${spec.user}`, spec.dir]);
  await assertReachable(spec.user, spec.homeDir);
  // -d: the launcher returns once the server process has started (or failed); -p: the server's own pid.
  const started = await run(path.join(spec.homeDir, 'bin', 'elasticsearch'), ['-d', '-p', spec.pidFile], {
    user: spec.user,
    cwd: spec.dir,
    env: { ES_JAVA_HOME: javaHome, ES_PATH_CONF: spec.confDir, ES_JAVA_OPTS: '', JAVA_HOME: undefined },
    check: false,
    timeoutMs: 300_000,
  });
  writeFileSync(spec.logFile, `${started.stdout}${started.stderr}`);
  if (started.code !== 0) throw new Error(`elasticsearch failed to start (exit ${started.code}): ${(started.stderr || started.stdout).trim().slice(-1500)} — see ${spec.logsDir}`);
  await waitEsReady(spec, 180_000);
  return fetched === 'cached' ? 'started' : `${fetched}, started`;
}

export async function stopElasticsearch(spec: EsSpec): Promise<void> {
  const pid = esPid(spec);
  if (pid !== undefined) await terminate(pid, { graceMs: 30_000 });
  rmSync(spec.pidFile, { force: true });
}

export async function killElasticsearch(spec: EsSpec): Promise<void> {
  const pid = esPid(spec);
  if (pid !== undefined) await terminate(pid, { signal: 'SIGKILL', graceMs: 10_000 });
  rmSync(spec.pidFile, { force: true });
}
