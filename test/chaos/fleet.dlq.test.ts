// Issue 14: the DLQ replayer is a singleton of the deployment. Three daemons, each with a scheduled replay tick
// every second, share one replayer group on a one-partition DLQ: poison commands dead-lettered by the writers
// are re-driven once (failing again: re-appended once), then parked once and alerted once across the fleet.
// A replay requested of a follower is refused with 409 TS_ERR_NOT_LEADER naming the leader and its address.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { H } from '../../actors/dlq/dead-letter.ts';
import { createCommandLog } from '../../adapters/kafka/index.ts';
import { loadConfig } from '../../config/index.ts';
import type { DaemonProcess } from '../../drill/daemon-process.ts';
import { createLogger } from '../../lib/logger.ts';
import * as services from '../../services/index.ts';
import { converged, leaderOf, linesWith, metricSum, startFleet, status, stopFleets } from '../support/fleet.ts';
import { readTopic } from '../support/indexing.ts';
import { commandStream } from '../support/reference-model.ts';

const logger = createLogger({ level: 'silent' });
const POISON = 12;

afterEach(stopFleets, 60_000);

afterAll(async () => {
  await services.resetCluster(loadConfig({ overrides: { profile: 'local' } }), 0);
}, 120_000);

function replay(d: DaemonProcess, token: string): Promise<Response> {
  return fetch(`${d.url}/v1/dlq/replay`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(30_000) });
}

/** Parked dead letters named in a daemon's ALERT lines. */
const alerted = (file: string) => linesWith(file, 'ALERT:').reduce((n, l) => n + ((JSON.parse(l) as { parked?: unknown[] }).parked?.length ?? 0), 0);

describe('the DLQ replayer with three daemons (real Kafka + PostgreSQL)', () => {
  it('re-drives every dead letter once, parks it once and alerts once across the fleet; a follower names the leader', async () => {
    const f = await startFleet('fleet-dlq', { env: () => ({ TAGSTREAM_DLQ__REPLAY_INTERVAL_MS: '1000', TAGSTREAM_DLQ__MAX_REPLAYS: '2', TAGSTREAM_LOG__LEVEL: 'warn' }) });
    const token = f.config.http.adminToken;
    const prefix = `${f.topic}-`;
    const leader = await leaderOf(f);
    const followers = f.daemons.filter((d) => d !== leader);
    const log = createCommandLog(f.config, logger);
    try {
      // Poison among good commands: an unknown op and a value that is not JSON; the writers dead-letter them.
      await log.produce(f.topic, commandStream(1_000, 41, { prefix }));
      const poison = Array.from({ length: POISON }, (_, i) => ({ key: `${prefix}poison-${i}`, value: i % 2 === 0 ? JSON.stringify({ id: `p${i}`, op: 'explode', entity: `${prefix}poison-${i}`, tag: 'x', actor: 't', at: 1 }) : `{not json ${i}` }));
      await log.produce(f.topic, poison);
      await log.produce(f.topic, commandStream(1_000, 42, { prefix }));

      // A follower refuses an operator's pass and says where the leader is.
      const leaderStatus = await status(leader);
      for (const d of followers) {
        const r = await replay(d, token);
        expect(r.status).toBe(409);
        const body = (await r.json()) as { error: { code: string; message: string; leader?: { daemonId: string; url: string | null; term: number } } };
        expect(body.error.code).toBe('TS_ERR_NOT_LEADER');
        expect(body.error.message).toContain(leaderStatus.leadership.daemonId);
        expect(body.error.message).toContain(leader.url);
        expect(body.error.leader).toMatchObject({ daemonId: leaderStatus.leadership.daemonId, url: leader.url });
      }

      // The scheduled passes (the leader's only) re-drive each one, re-append it once, then park it.
      await vi.waitFor(async () => expect((await readTopic(log, f.config.kafka.parkingTopic)).length).toBeGreaterThanOrEqual(POISON), { timeout: 120_000, interval: 500 });
      // Settled: the leader's own pass finds nothing left (answered by the leader, 200).
      await vi.waitFor(async () => {
        const r = await replay(leader, token);
        expect(r.status).toBe(200);
        expect(await r.json()).toMatchObject({ replayed: 0, failed: 0, parked: 0, remaining: 0 });
      }, { timeout: 60_000, interval: 1_000 });

      const dlq = await readTopic(log, f.config.kafka.dlqTopic);
      const parked = await readTopic(log, f.config.kafka.parkingTopic);
      const originals = dlq.filter((r) => (r.headers[H.replays] ?? '0') === '0');
      const reappended = dlq.filter((r) => (r.headers[H.replays] ?? '0') === '1');
      const sources = (rs: typeof dlq) => rs.map((r) => `${r.headers[H.consumer]}@${r.headers[H.sourcePartition]}/${r.headers[H.sourceOffset]}`).sort();
      expect(originals.length).toBeGreaterThanOrEqual(POISON);
      // Each dead letter: one re-append (its failed replay), one park, one alert — across the fleet.
      expect(sources(reappended)).toEqual(sources(originals));
      expect(sources(parked)).toEqual(sources(originals));
      expect(dlq).toHaveLength(2 * originals.length);
      const counts = await Promise.all(f.daemons.map(async (d) => ({ parked: await metricSum(d, 'tagstream_dlq_replay_records_total{outcome="parked"}'), failed: await metricSum(d, 'tagstream_dlq_replay_records_total{outcome="failed"}'), alerts: await metricSum(d, 'tagstream_dlq_alerts_total') })));
      expect(counts.reduce((n, c) => n + c.parked, 0)).toBe(originals.length);
      expect(counts.reduce((n, c) => n + c.failed, 0)).toBe(originals.length);
      for (const d of followers) expect(counts[f.daemons.indexOf(d)]).toEqual({ parked: 0, failed: 0, alerts: 0 });
      await vi.waitFor(() => expect(f.logs.reduce((n, l) => n + alerted(l), 0)).toBe(originals.length), { timeout: 10_000, interval: 100 });
      for (const d of followers) expect(alerted(f.logs[f.daemons.indexOf(d)]!)).toBe(0);
    } finally {
      await log.close();
    }
    await converged(f, prefix, leader);
  }, 480_000);
});
