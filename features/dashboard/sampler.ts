// Samples what the event streams do not carry, once a second on the injected clock: consumer lag per group and
// partition, throughput, DLQ and parking depth, each cluster's nodes (role, up, replica lag), actor mailboxes.
// Feeds the Prometheus gauges and a bounded history for the dashboard's charts. Every backend call has a
// deadline, so a frozen Kafka or PostgreSQL node shows as an error in the sample instead of stalling the loop.
import type { CommandLog } from '../../adapters/kafka/port.ts';
import type { NodeProbe, ShardStore } from '../../adapters/pg/port.ts';
import type { ActorInfo } from '../../actors/runtime/system.ts';
import type { Config } from '../../config/index.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import { lsnToBigInt } from '../../lib/lsn.ts';
import type { Metrics } from '../../lib/metrics.ts';
import { Ring } from '../../lib/ring.ts';

export interface Sample {
  at: number;
  /** Total lag per consumer group (records behind the log end). */
  lag: Record<string, number>;
  /** Commands per second: applied (writers' committed offsets) and produced (log end offsets). */
  appliedPerSec: number | null;
  producedPerSec: number | null;
  dlqDepth: number | null;
  parkingDepth: number | null;
  errors: string[];
}

export interface NodeView {
  name: string;
  role: 'primary' | 'replica' | 'fenced';
  up: boolean;
  lagBytes: number | null;
  latencyMs: number | null;
  error?: string;
}

export interface ClusterView {
  name: string;
  primary: string;
  replicas: string[];
  fenced: string[];
  nodes: NodeView[];
  probedAt: number | null;
}

export interface SamplerDeps {
  config: Readonly<Config>;
  clock: Clock;
  log: CommandLog;
  stores: Map<string, ShardStore>;
  metrics: Metrics;
  actors: () => ActorInfo[];
  /** The DLQ feature's own count, if it offers one (else the DLQ topic's record count). */
  dlqDepth?: () => Promise<number> | null;
  onSample: (s: Sample, clusters: ClusterView[]) => void;
  intervalMs?: number;
  historySize?: number;
  timeoutMs?: number;
}

export interface Sampler {
  start(): void;
  stop(): void;
  /** One sample now (tests drive it directly). */
  sampleOnce(): Promise<Sample>;
  history(): Sample[];
  clusters(): ClusterView[];
}

const sum = (m: Map<number, string>) => [...m.values()].reduce((a, v) => a + Number(v), 0);

export function createSampler(d: SamplerDeps): Sampler {
  const interval = d.intervalMs ?? 1_000;
  const timeoutMs = d.timeoutMs ?? Math.max(200, interval - 100);
  const history = new Ring<Sample>(d.historySize ?? 900);
  let clusters: ClusterView[] = [...d.stores].map(([name, s]) => ({ name, ...s.topology(), nodes: [], probedAt: null }));
  let prev: { at: number; applied: number; produced: number } | null = null;
  let timer: TimerHandle | null = null;
  let running = false;

  const within = <T>(p: Promise<T>, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const t = d.clock.setTimeout(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
      p.then(
        (v) => (d.clock.clearTimeout(t), resolve(v)),
        (e: unknown) => (d.clock.clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
      );
    });

  const sampleActors = () => {
    const actors = d.actors();
    d.metrics.mailboxDepth.reset();
    const byStatus: Record<string, number> = { running: 0, restarting: 0, parked: 0, stopped: 0 };
    for (const a of actors) {
      d.metrics.mailboxDepth.set({ actor: a.path }, a.mailboxDepth);
      byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    }
    for (const [status, n] of Object.entries(byStatus)) d.metrics.actors.set({ status }, n);
  };

  const probeCluster = async (name: string, store: ShardStore): Promise<ClusterView> => {
    const topo = store.topology();
    let probes: NodeProbe[] = [];
    let error: string | undefined;
    try {
      probes = await within(store.probe(), `probe ${name}`);
    } catch (err) {
      error = errorMessage(err);
    }
    const primaryProbe = probes.find((p) => p.name === topo.primary);
    const nodes: NodeView[] = [topo.primary, ...topo.replicas, ...topo.fenced].map((node) => {
      const p = probes.find((x) => x.name === node);
      const role = topo.fenced.includes(node) ? 'fenced' : node === topo.primary ? 'primary' : 'replica';
      let lagBytes: number | null = null;
      if (role === 'replica' && p?.up && p.replayLsn && primaryProbe?.up && primaryProbe.currentLsn) {
        lagBytes = Math.max(0, Number(lsnToBigInt(primaryProbe.currentLsn) - lsnToBigInt(p.replayLsn)));
      }
      d.metrics.nodeUp.set({ cluster: name, node, role }, p?.up ? 1 : 0);
      if (role === 'replica') d.metrics.replicaLagBytes.set({ cluster: name, node }, lagBytes ?? 0);
      const err = p?.error ?? (p ? undefined : error);
      return { name: node, role, up: p?.up ?? false, lagBytes, latencyMs: p?.latencyMs ?? null, ...(err ? { error: err } : {}) };
    });
    return { name, ...topo, nodes, probedAt: d.clock.now() };
  };

  const sampleOnce = async (): Promise<Sample> => {
    const at = d.clock.now();
    const errors: string[] = [];
    sampleActors();
    const { topic, dlqTopic, parkingTopic, groupId } = d.config.kafka;
    const lag: Record<string, number> = {};
    let appliedPerSec: number | null = null;
    let producedPerSec: number | null = null;
    let dlqDepth: number | null = null;
    let parkingDepth: number | null = null;
    try {
      const ends = await within(d.log.endOffsets(topic), 'kafka end offsets');
      const groups = [groupId, d.config.indexer.groupId, d.config.indexer.analyticsGroupId];
      let appliedTotal = 0;
      for (const g of groups) {
        const committed = await within(d.log.committed(g, topic), `kafka committed offsets of ${g}`);
        if (g !== groupId && committed.size === 0) continue; // that consumer has not started (feature absent)
        let total = 0;
        for (const [p, end] of ends) {
          const l = Math.max(0, Number(end) - Number(committed.get(p) ?? '0'));
          d.metrics.consumerLag.set({ group: g, partition: String(p) }, l);
          total += l;
        }
        lag[g] = total;
        if (g === groupId) appliedTotal = sum(committed);
      }
      const produced = sum(ends);
      if (prev && at > prev.at) {
        appliedPerSec = Math.max(0, ((appliedTotal - prev.applied) * 1000) / (at - prev.at));
        producedPerSec = Math.max(0, ((produced - prev.produced) * 1000) / (at - prev.at));
      }
      prev = { at, applied: appliedTotal, produced };
      const own = d.dlqDepth?.();
      dlqDepth = own ? await within(own, 'dlq depth') : sum(await within(d.log.endOffsets(dlqTopic), 'kafka dlq end offsets'));
      parkingDepth = sum(await within(d.log.endOffsets(parkingTopic), 'kafka parking end offsets'));
      d.metrics.dlqDepth.set(dlqDepth);
      d.metrics.parkingDepth.set(parkingDepth);
    } catch (err) {
      errors.push(`kafka: ${errorMessage(err)}`);
    }
    clusters = await Promise.all([...d.stores].map(([name, s]) => probeCluster(name, s)));
    for (const c of clusters) if (!c.nodes.find((n) => n.role === 'primary')?.up) errors.push(`${c.name}: primary ${c.primary} is not answering`);
    const sample: Sample = { at, lag, appliedPerSec, producedPerSec, dlqDepth, parkingDepth, errors };
    history.push(sample);
    d.onSample(sample, clusters);
    return sample;
  };

  const loop = () => {
    timer = null;
    if (!running) return;
    void sampleOnce()
      .catch(() => undefined)
      .finally(() => {
        if (running) timer = d.clock.setTimeout(loop, interval);
      });
  };

  return {
    start() {
      if (running) return;
      running = true;
      loop();
    },
    stop() {
      running = false;
      if (timer !== null) d.clock.clearTimeout(timer);
      timer = null;
    },
    sampleOnce,
    history: () => history.toArray(),
    clusters: () => clusters,
  };
}
