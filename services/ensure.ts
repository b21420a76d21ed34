// `up`: install what is missing, then start every service that is not running and wait until each one is
// truly ready. Idempotent; with everything already up it only checks (well under a second for PG + Redis).
import { mkdirSync } from 'node:fs';
import type { Config } from '../config/index.ts';
import { systemClock } from '../lib/clock.ts';
import { installMissing, assertReachable } from './install.ts';
import { servicesLayout, type ServicesLayout } from './layout.ts';
import { withRunLock } from './lock.ts';
import { markRunDir } from './ports.ts';
import { ensureCluster } from './pg/cluster.ts';
import { startRedis, redisState, thawRedis } from './redis.ts';
import { ensureKafka } from './kafka/broker.ts';
import { ensureElasticsearch } from './elasticsearch/node.ts';
import { ensurePatroniCluster } from './patroni/cluster.ts';
import { patroniLayout } from './patroni/layout.ts';

export const SERVICE_KINDS = ['pg', 'redis', 'kafka', 'es'] as const;
/** Started only when asked for by name (`up patroni`, or `up --patroni` for the default set plus it). */
export const OPTIONAL_KINDS = ['patroni'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number] | (typeof OPTIONAL_KINDS)[number];

export interface EnsureOptions {
  /** Only these services (default: every one of SERVICE_KINDS; the optional ones only when listed). */
  only?: readonly ServiceKind[];
  /** Install missing Debian packages (default true). */
  install?: boolean;
  log?: (line: string) => void;
}

export interface ServiceOutcome {
  kind: ServiceKind;
  name: string;
  action: string;
  address: string;
  ms: number;
}

export async function ensureServices(config: Readonly<Config>, opts: EnsureOptions = {}): Promise<ServiceOutcome[]> {
  const l = servicesLayout(config.services);
  const only = new Set<ServiceKind>(opts.only ?? SERVICE_KINDS);
  const log = opts.log ?? (() => undefined);
  return withRunLock(l.runDir, async () => {
    if (opts.install ?? true) {
      const installed = await installMissing({ pgBin: l.pgBin, log, patroni: only.has('patroni') });
      if (installed.length) log(`installed ${installed.join(', ')}`);
    }
    mkdirSync(l.runDir, { recursive: true });
    mkdirSync(l.cacheDir, { recursive: true });
    markRunDir(l.runDir);
    const jobs: Array<Promise<ServiceOutcome[]>> = [];
    if (only.has('pg')) {
      await assertReachable(l.pgUser, l.runDir);
      jobs.push(...l.pg.map((c) => timed('pg', c.name, c.nodes.map((n) => `${n.name}=127.0.0.1:${n.port}`).join(' '), async () => describe(await ensureCluster(l, c)))));
    }
    if (only.has('redis')) jobs.push(...l.redis.map((r) => timed('redis', r.name, `127.0.0.1:${r.port}`, () => ensureRedis(l, r))));
    if (only.has('kafka')) jobs.push(timed('kafka', 'kafka', `127.0.0.1:${l.kafka.port}`, () => ensureKafka(l, log)));
    if (only.has('es')) jobs.push(timed('es', 'elasticsearch', `http://127.0.0.1:${l.es.port}`, () => ensureElasticsearch(l, log)));
    if (only.has('patroni')) {
      const p = patroniLayout(config.services);
      if (!only.has('pg')) await assertReachable(l.pgUser, l.runDir);
      const address = `${p.members.map((m) => `${m.name}=127.0.0.1:${m.pg.port} (${m.url})`).join(' ')} etcd=127.0.0.1:${p.etcd.port}`;
      jobs.push(timed('patroni', p.cluster, address, async () => describe(await ensurePatroniCluster(p))));
    }
    const settled = await Promise.allSettled(jobs);
    const outcomes = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    const failures = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const o of outcomes) log(`${o.name.padEnd(14)} ${o.action.padEnd(13)} ${o.address}  (${o.ms} ms)`);
    if (failures.length > 0) {
      const msg = failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n');
      throw new AggregateError(failures.map((f) => f.reason as unknown), `services failed to start:\n${msg}`);
    }
    return outcomes;
  });
}

function describe(r: { action: string; reason?: string }): string {
  return r.reason ? `${r.action} (${r.reason})` : r.action;
}

async function ensureRedis(l: ServicesLayout, spec: ServicesLayout['redis'][number]): Promise<string> {
  if (redisState(spec) === 'frozen') {
    thawRedis(spec);
    return 'resumed';
  }
  return (await startRedis(l, spec)) ? 'started' : 'left running';
}

async function timed(kind: ServiceKind, name: string, address: string, fn: () => Promise<string>): Promise<ServiceOutcome[]> {
  const t0 = systemClock.now();
  const action = await fn();
  return [{ kind, name, action, address, ms: systemClock.now() - t0 }];
}
