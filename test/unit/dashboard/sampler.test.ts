// The sampler turns log offsets and node probes into lag, throughput, depths and replica lag — gauges and a
// bounded history — and a backend that hangs costs it a deadline, not the loop.
import { describe, expect, it } from 'vitest';
import type { CommandLog } from '../../../adapters/kafka/port.ts';
import type { NodeProbe, ShardStore, Topology } from '../../../adapters/pg/port.ts';
import { loadConfig } from '../../../config/index.ts';
import { createSampler, type ClusterView, type Sample } from '../../../features/dashboard/sampler.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { createMetrics } from '../../../lib/metrics.ts';
import { parsePrometheus, samples } from '../../support/prometheus.ts';

const config = loadConfig({ env: {} });
const { topic, dlqTopic, parkingTopic, groupId } = config.kafka;

function fakeLog(state: { ends: Record<string, number[]>; committed: Record<string, number[]>; hang?: boolean }): CommandLog {
  const toMap = (a: number[] = []) => new Map(a.map((v, i) => [i, String(v)]));
  return {
    endOffsets: async (t: string) => (state.hang ? new Promise(() => undefined) : toMap(state.ends[t])),
    committed: async (g: string) => toMap(state.committed[g]),
  } as unknown as CommandLog;
}

function fakeStore(topology: Topology, probes: NodeProbe[]): ShardStore {
  return { topology: () => topology, probe: async () => probes } as unknown as ShardStore;
}

describe('sampler', () => {
  it('computes lag per group and partition, throughput, DLQ/parking depth and replica lag', async () => {
    const clock = new SimulatedClock(0);
    const metrics = createMetrics();
    const state = { ends: { [topic]: [10, 20], [dlqTopic]: [3], [parkingTopic]: [1] }, committed: { [groupId]: [10, 15] } as Record<string, number[]> };
    const store = fakeStore({ primary: 'n0', replicas: ['n1', 'n2'], fenced: [] }, [
      { name: 'n0', up: true, role: 'primary', currentLsn: '0/3000' },
      { name: 'n1', up: true, role: 'replica', replayLsn: '0/1000' },
      { name: 'n2', up: false, error: 'connect ECONNREFUSED' },
    ]);
    const seen: Array<[Sample, ClusterView[]]> = [];
    const sampler = createSampler({ config, clock, log: fakeLog(state), stores: new Map([['pg0', store]]), metrics, actors: () => [{ path: '/t/w', kind: 'w', status: 'running', restarts: 0, mailboxDepth: 7, mailboxCapacity: 10, children: [] }], onSample: (s, c) => seen.push([s, c]) });

    const first = await sampler.sampleOnce();
    expect(first).toMatchObject({ lag: { [groupId]: 5 }, appliedPerSec: null, dlqDepth: 3, parkingDepth: 1, errors: [] });
    state.committed[groupId] = [10, 20];
    state.committed[config.indexer.groupId] = [4, 0];
    state.ends[topic] = [12, 20];
    clock.increment(2_000);
    const second = await sampler.sampleOnce();
    expect(second.lag).toEqual({ [groupId]: 2, [config.indexer.groupId]: 28 });
    expect(second.appliedPerSec).toBe(2.5);
    expect(second.producedPerSec).toBe(1);
    expect(sampler.history()).toHaveLength(2);
    expect(seen[1]![1][0]!.nodes).toEqual([
      { name: 'n0', role: 'primary', up: true, lagBytes: null, latencyMs: null },
      { name: 'n1', role: 'replica', up: true, lagBytes: 0x2000, latencyMs: null },
      { name: 'n2', role: 'replica', up: false, lagBytes: null, latencyMs: null, error: 'connect ECONNREFUSED' },
    ]);

    const f = parsePrometheus(await metrics.registry.metrics());
    expect(samples(f, 'tagstream_consumer_lag', { group: groupId }).map((s) => [s.labels.partition, s.value])).toEqual([['0', 2], ['1', 0]]);
    expect(samples(f, 'tagstream_replica_lag_bytes', { node: 'n1' })[0]!.value).toBe(0x2000);
    expect(samples(f, 'tagstream_pg_node_up', { node: 'n2' })[0]!.value).toBe(0);
    expect(samples(f, 'tagstream_actor_mailbox_depth', { actor: '/t/w' })[0]!.value).toBe(7);
    expect(samples(f, 'tagstream_dlq_depth')[0]!.value).toBe(3);
  });

  it('prefers the DLQ feature\'s own depth, and reports a hung log as a sample error after its deadline', async () => {
    const clock = new SimulatedClock(0);
    const state = { ends: { [topic]: [1] }, committed: {}, hang: false };
    const store = fakeStore({ primary: 'n0', replicas: [], fenced: [] }, [{ name: 'n0', up: false, error: 'down' }]);
    const sampler = createSampler({ config, clock, log: fakeLog(state), stores: new Map([['pg0', store]]), metrics: createMetrics(), actors: () => [], dlqDepth: () => Promise.resolve(42), onSample: () => undefined, timeoutMs: 500 });
    expect((await sampler.sampleOnce()).dlqDepth).toBe(42);
    state.hang = true;
    const pending = sampler.sampleOnce();
    await Promise.resolve();
    clock.increment(500);
    const s = await pending;
    expect(s.errors).toEqual(['kafka: kafka end offsets: no answer within 500 ms', 'pg0: primary n0 is not answering']);
    expect(s.lag).toEqual({});
  });
});
