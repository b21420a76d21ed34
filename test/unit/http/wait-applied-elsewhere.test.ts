// `?wait=applied` through a daemon that does not consume the entity's partition (several daemons; issue 17): its
// applied bus never hears of the command, so the answer comes from the primary's row — 200 with a token as soon
// as the row shows this command or a later one; a daemon that consumes the partition never asks the database.
import { describe, expect, it } from 'vitest';
import { AppliedBus } from '../../../actors/applied-bus.ts';
import { rowCovers, waitRowApplied } from '../../../actors/applied-on-primary.ts';
import type { CommandLog } from '../../../adapters/kafka/port.ts';
import type { RowPosition } from '../../../adapters/pg/port.ts';
import { SimulatedClock, systemClock } from '../../../lib/clock.ts';
import { defaultLimits } from '../../../lib/command.ts';
import { createMetrics } from '../../../lib/metrics.ts';
import { verifyToken } from '../../../lib/token.ts';
import { createHttpServer } from '../../../web/http/server.ts';
import { registerWriteRoutes } from '../../../web/http/write-routes.ts';

const secret = 'x'.repeat(16);
const flush = () => new Promise((r) => setImmediate(r));
/** Simulated time forward 1 ms at a time, letting promises settle between steps, until `settled` or `maxMs`. */
async function drive(clock: SimulatedClock, settled: () => boolean, maxMs: number): Promise<void> {
  for (let i = 0; i < maxMs; i++) {
    await flush();
    if (settled()) return;
    clock.increment(1);
  }
}

function server(consumes: boolean, row: () => Promise<{ shard: number; cluster: string; commitLsn: string } | null>) {
  const log = { produce: async () => [{ partition: 2, offset: '41' }] } as unknown as CommandLog;
  const asked: string[] = [];
  const applied = new AppliedBus(systemClock);
  const app = createHttpServer({ metrics: createMetrics(), health: { notReadyReasons: () => [], status: () => ({}) } });
  registerWriteRoutes(app, {
    log,
    topic: 't',
    limits: defaultLimits,
    applied,
    tokenSecret: secret,
    clock: systemClock,
    isDraining: () => false,
    consumes: () => consumes,
    rowApplied: async (entity, tag, offset) => (asked.push(`${entity}/${tag}@${offset}`), row()),
  });
  return { app, asked, applied };
}

describe('wait=applied through a daemon that does not consume the partition', () => {
  it('answers 200 from the primary row, with a token at the LSN the row was read at', async () => {
    const { app, asked } = server(false, async () => ({ shard: 3, cluster: 'pg1', commitLsn: '0/3000060' }));
    const r = await app.inject({ method: 'POST', url: '/v1/entities/bug-1/tags/critical?wait=applied&timeoutMs=2000' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'applied', applied: true, shard: 3, partition: 2, offset: '41', confirmedBy: 'primary-row' });
    expect(r.json().changed).toBeUndefined();
    expect(verifyToken(r.json().token, secret, 8)).toMatchObject({ shard: 3, lsn: '0/3000060' });
    expect(asked).toEqual(['bug-1/critical@41']);
  });

  it('the row answering first drops the bus waiter at once (nothing outlives the request)', async () => {
    const { app, applied } = server(false, async () => ({ shard: 3, cluster: 'pg1', commitLsn: '0/1' }));
    expect((await app.inject({ method: 'POST', url: '/v1/entities/bug-1/tags/critical?wait=applied&timeoutMs=60000' })).statusCode).toBe(200);
    expect(applied.waiting).toBe(0);
  });

  it('202 when neither the bus nor the row says applied within the timeout', async () => {
    const { app } = server(false, async () => null);
    const r = await app.inject({ method: 'POST', url: '/v1/entities/bug-1/tags/critical?wait=applied&timeoutMs=50' });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ applied: false });
  });

  it('a daemon consuming the partition waits on its own bus only', async () => {
    const { app, asked } = server(true, async () => ({ shard: 3, cluster: 'pg1', commitLsn: '0/1' }));
    const r = await app.inject({ method: 'POST', url: '/v1/entities/bug-1/tags/critical?wait=applied&timeoutMs=30' });
    expect(r.statusCode).toBe(202);
    expect(asked).toEqual([]);
  });
});

describe('waitRowApplied', () => {
  it('a row written by this command or a later one covers it; an older writer or no row does not', () => {
    const row = (offset: string): RowPosition => ({ partition: 2, offset, lsn: '0/1' });
    expect(rowCovers(row('41'), '41')).toBe(true);
    expect(rowCovers(row('100'), '41')).toBe(true);
    expect(rowCovers(row('40'), '41')).toBe(false);
    expect(rowCovers(null, '41')).toBe(false);
  });

  it('reads again at a backing-off interval (a failing read too) until the row shows the command', async () => {
    const clock = new SimulatedClock(0);
    const answers: Array<RowPosition | null | Error> = [null, new Error('primary failing over'), { partition: 2, offset: '40', lsn: '0/1' }, { partition: 2, offset: '41', lsn: '0/2000' }];
    const at: number[] = [];
    const store = {
      cluster: 'pg1',
      rowPosition: async () => {
        at.push(clock.now());
        const a = answers.shift()!;
        if (a instanceof Error) throw a;
        return a;
      },
    };
    let result: unknown;
    const done = waitRowApplied(store, clock, { shard: 3, entity: 'bug-1', tag: 'critical', offset: '41' }, 5_000, new AbortController().signal).then((r) => (result = r));
    await drive(clock, () => result !== undefined, 1_000);
    await expect(done).resolves.toEqual({ shard: 3, cluster: 'pg1', commitLsn: '0/2000' });
    expect(at).toEqual([0, 10, 30, 70]);
  });

  it('a read that hangs (a frozen primary) does not hold the answer past the timeout', async () => {
    const clock = new SimulatedClock(0);
    const store = { cluster: 'pg1', rowPosition: () => new Promise<RowPosition | null>(() => undefined) };
    let result: unknown;
    const p = waitRowApplied(store, clock, { shard: 3, entity: 'e', tag: 't', offset: '1' }, 300, new AbortController().signal).then((r) => (result = r));
    await drive(clock, () => result !== undefined, 1_000);
    await expect(p).resolves.toBeNull();
    expect(clock.now()).toBe(300);
  });

  it('gives up at the timeout, and at once when aborted', async () => {
    const clock = new SimulatedClock(0);
    const store = { cluster: 'pg1', rowPosition: async () => null };
    let result: unknown;
    const timedOut = waitRowApplied(store, clock, { shard: 3, entity: 'e', tag: 't', offset: '1' }, 300, new AbortController().signal).then((r) => (result = r));
    await drive(clock, () => result !== undefined, 1_000);
    await expect(timedOut).resolves.toBeNull();
    expect(clock.now()).toBe(300);
    const stop = new AbortController();
    const aborted = waitRowApplied(store, clock, { shard: 3, entity: 'e', tag: 't', offset: '1' }, 60_000, stop.signal);
    await flush();
    stop.abort();
    await expect(aborted).resolves.toBeNull();
  });
});
