// The shard store's node probes on real PostgreSQL (cluster pg1): one long-lived probe session per node instead of
// a fresh connection (a forked backend) per node per probe interval, and a kept session never hides what the node
// is: killed (a fence ends sessions) → the probe reconnects at once; frozen → down; thawed → up again.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PgShardStore } from '../../adapters/pg/pg-shard-store.ts';
import type { PgClusterConfig } from '../../config/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { contNode, resetCluster, stopNode, waitStreaming } from '../../services/index.ts';
import { query } from '../../services/pg/sql.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const CLUSTER = 1;
const config = localConfig();
const cluster: PgClusterConfig = config.postgres.clusters[CLUSTER]!;
const nodes = cluster.nodes.map((n) => n.name);
const portOf = (node: string) => cluster.nodes.find((n) => n.name === node)!.port;
const admin = <R extends Record<string, unknown>>(node: string, sql: string, params: unknown[] = []) => query<R>({ port: portOf(node), database: cluster.database }, sql, params, { timeoutMs: 5_000 });
const app = uniqueName('ts-probe');
const probeSessions = async (node: string) => {
  const [row] = await admin<{ pids: number[] | null }>(node, 'SELECT array_agg(pid) AS pids FROM pg_stat_activity WHERE application_name = $1', [`${app}-probe`]);
  return row?.pids ?? [];
};

/** Waits (vitest's own polling, as every other test) until `check` holds; `what` names it when it never does. */
const eventually = (check: () => Promise<boolean>, what: string): Promise<void> =>
  vi.waitFor(async () => expect(await check(), what).toBe(true), { timeout: 15_000, interval: 50 });

let store: PgShardStore;
let frozen = false;

beforeAll(async () => {
  await resetCluster(config, CLUSTER);
  await waitStreaming(config, { cluster: CLUSTER, node: 0 });
  store = new PgShardStore({
    cluster: cluster.name,
    nodes: cluster.nodes,
    database: cluster.database,
    user: cluster.user,
    statementTimeoutMs: 1_000,
    connectTimeoutMs: 1_000,
    probeTimeoutMs: 1_000,
    poolSize: 2,
    applicationName: app,
    logger: silentLogger(),
  });
});

afterAll(async () => {
  if (frozen) contNode(config, { cluster: CLUSTER, node: 2 });
  await store?.close();
});

describe('node probes keep one session per node', () => {
  it('many probe rounds use one backend per node, the same one each time', async () => {
    const first = await store.probe();
    expect(first.map((p) => p.up)).toEqual([true, true, true]);
    const pids = await Promise.all(nodes.map(probeSessions));
    expect(pids.map((p) => p.length)).toEqual([1, 1, 1]);
    for (let i = 0; i < 5; i++) expect((await store.probe()).every((p) => p.up)).toBe(true);
    expect(await Promise.all(nodes.map(probeSessions))).toEqual(pids);
  });

  it('a probe session ended on the server (a fence does that) → the next probe reconnects and says up', async () => {
    const [old] = await probeSessions(nodes[1]!);
    await admin(nodes[1]!, 'SELECT pg_terminate_backend($1)', [old]);
    await eventually(async () => !(await probeSessions(nodes[1]!)).includes(old!), 'the backend ended');
    const p = (await store.probe()).find((x) => x.name === nodes[1]);
    expect(p).toMatchObject({ up: true, role: 'replica' });
    const now = await probeSessions(nodes[1]!);
    expect(now).toHaveLength(1);
    expect(now).not.toContain(old);
  });

  it('a frozen node with a kept session is down (not retried past its timeout), and up again once thawed', async () => {
    expect(await probeSessions(nodes[2]!)).toHaveLength(1);
    stopNode(config, { cluster: CLUSTER, node: 2 });
    frozen = true;
    const down = (await store.probe()).find((x) => x.name === nodes[2]);
    expect(down).toMatchObject({ up: false, error: expect.any(String) });
    contNode(config, { cluster: CLUSTER, node: 2 });
    frozen = false;
    await eventually(async () => (await store.probe()).find((x) => x.name === nodes[2])?.up === true, 'n2 probes up after SIGCONT');
    await eventually(async () => (await probeSessions(nodes[2]!)).length === 1, 'one probe session on n2 again');
  });

  it('close() ends the probe sessions', async () => {
    await store.close();
    for (const n of nodes) await eventually(async () => (await probeSessions(n)).length === 0, `no probe session left on ${n}`);
  });
});
