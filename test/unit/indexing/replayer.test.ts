// The DLQ replayer on the in-process log and simulated time: re-drive by consumer group with the original
// position, re-append with one more x-replays on failure, park after maxReplays (alert) or when nothing can
// re-drive it, stop before a record whose target is down, --since, park, dry run, rate limit.
import { describe, expect, it } from 'vitest';
import { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import { createDeadLetterSink, H } from '../../../actors/dlq/dead-letter.ts';
import type { DeadLetterView } from '../../../actors/dlq/dlq-record.ts';
import type { RedriveTarget } from '../../../actors/dlq/redrive.ts';
import { DlqReplayer } from '../../../actors/dlq/replayer.ts';
import type { SourceRecord } from '../../../actors/sink/target.ts';
import type { WriteOutcome } from '../../../actors/sink/write-with-retry.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { RateLimiter } from '../../../lib/rate-limiter.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { onSimulatedTime } from '../../support/sim.ts';

const TOPIC = 'cmds';
const DLQ = 'cmds.dlq';
const PARKING = 'cmds.parking';

async function setup(opts: { maxReplays?: number; ratePerSec?: number } = {}) {
  const clock = new SimulatedClock(1_700_000_000_000);
  const log = new MemoryCommandLog({ clock });
  for (const t of [TOPIC, DLQ, PARKING]) await log.ensureTopic(t, t === TOPIC ? 2 : 1);
  const seen: Array<{ target: string; rec: SourceRecord }> = [];
  let answer: (rec: SourceRecord) => WriteOutcome = () => ({ kind: 'written' });
  const target = (name: string): RedriveTarget => ({
    name,
    redrive: async (records) =>
      records.map((rec) => {
        seen.push({ target: name, rec });
        return answer(rec);
      }),
  });
  const alerts: DeadLetterView[][] = [];
  const replayer = new DlqReplayer({
    log,
    dlqTopic: DLQ,
    parkingTopic: PARKING,
    groupId: 'replayer',
    routes: { writersGroup: 'writers', targets: new Map([['writers', target('writers')], ['indexer', target('search')], ['analytics', target('analytics')]]) },
    clock,
    logger: silentLogger(),
    ratePerSec: opts.ratePerSec ?? 1_000,
    maxReplays: opts.maxReplays ?? 2,
    signal: new AbortController().signal,
    alert: (p) => void alerts.push(p),
  });
  const dlq = createDeadLetterSink(log, DLQ);
  const deadLetter = async (consumer: string, value: string, code = 'document_parsing_exception') => {
    const [pos] = await log.produce(TOPIC, [{ key: 'e1', value }]);
    await dlq.send({ source: { topic: TOPIC, partition: pos!.partition, offset: pos!.offset, key: 'e1', value }, consumer, errorClass: 'poison', code, message: 'bad', attempts: 1, firstFailureAt: clock.now(), lastFailureAt: clock.now() });
    return pos!;
  };
  const read = async (topic: string) => log.read(topic, 0, '0', 1_000);
  const run = <T>(p: Promise<T>) => onSimulatedTime(p, clock);
  return { clock, log, replayer, seen, alerts, deadLetter, read, run, setAnswer: (f: typeof answer) => (answer = f) };
}

const cmd = (entity: string, tag: string) => JSON.stringify({ id: 'i', op: 'attach', entity, tag, actor: 'a', at: 1 });
const failed: WriteOutcome = { kind: 'failed', errorClass: 'poison', code: 'mapper_parsing_exception', message: 'still bad', attempts: 1, firstFailureAt: 0, lastFailureAt: 0 };

describe('DlqReplayer', () => {
  it('re-drives each dead letter to the consumer that failed it, with its original position; commits its progress', async () => {
    const s = await setup();
    const a = await s.deadLetter('indexer', cmd('e1', 't'));
    const b = await s.deadLetter('analytics', cmd('e1', 'u'));
    expect(await s.replayer.depth()).toBe(2);
    expect(await s.run(s.replayer.pass())).toMatchObject({ replayed: 2, failed: 0, parked: 0, remaining: 0 });
    expect(s.seen.map((x) => [x.target, x.rec.topic, x.rec.partition, x.rec.offset])).toEqual([
      ['search', TOPIC, a.partition, a.offset],
      ['analytics', TOPIC, b.partition, b.offset],
    ]);
    expect(await s.replayer.depth()).toBe(0);
    expect(await s.run(s.replayer.pass())).toMatchObject({ replayed: 0, remaining: 0 });
    expect(s.seen).toHaveLength(2);
  });

  it('a command the edge rejected goes to every target once it validates; still invalid, it fails again', async () => {
    const s = await setup();
    await s.deadLetter('writers', cmd('e1', 't'), 'TS_ERR_COMMAND_TOO_LARGE');
    expect(await s.run(s.replayer.pass())).toMatchObject({ replayed: 1 });
    expect(s.seen.map((x) => x.target)).toEqual(['writers', 'search', 'analytics']);
  });

  it('failing again: back to the DLQ with x-replays + 1 and the same origin; after maxReplays parked with an alert', async () => {
    const s = await setup({ maxReplays: 2 });
    s.setAnswer(() => failed);
    const pos = await s.deadLetter('indexer', cmd('e1', 't'));
    expect(await s.run(s.replayer.pass())).toMatchObject({ replayed: 0, failed: 1, parked: 0, remaining: 0 });
    const [, again] = await s.read(DLQ);
    expect(again!.headers).toMatchObject({ [H.replays]: '1', [H.sourceOffset]: pos.offset, [H.sourcePartition]: String(pos.partition), [H.errorCode]: 'mapper_parsing_exception', [H.attempts]: '2' });
    expect(await s.run(s.replayer.pass())).toMatchObject({ failed: 0, parked: 1 });
    const [parked] = await s.read(PARKING);
    expect(parked!.headers).toMatchObject({ [H.sourceOffset]: pos.offset, 'x-parked-reason': 'failed 2 replay(s); last: search: mapper_parsing_exception: still bad' });
    expect(s.alerts).toHaveLength(1);
    expect(s.alerts[0]![0]).toMatchObject({ consumer: 'indexer', source: { offset: pos.offset } });
    expect((await s.replayer.list({ parked: true }))[0]).toMatchObject({ parkedReason: expect.stringContaining('failed 2 replay(s)') });
  });

  it('parks at once what nothing can re-drive (an unknown consumer)', async () => {
    const s = await setup();
    await s.deadLetter('someone-else', cmd('e1', 't'));
    expect(await s.run(s.replayer.pass())).toMatchObject({ parked: 1 });
    expect((await s.read(PARKING))[0]!.headers['x-parked-reason']).toBe('no re-drive target for consumer "someone-else"');
  });

  it('stops before a record whose target is down and leaves it (and the rest) for later', async () => {
    const s = await setup();
    await s.deadLetter('indexer', cmd('e1', 't'));
    await s.deadLetter('indexer', cmd('e1', 'u'));
    s.setAnswer(() => ({ kind: 'held', reason: 'breaker search is open' }));
    expect(await s.run(s.replayer.pass())).toMatchObject({ replayed: 0, held: 1, remaining: 2, stoppedBecause: 'breaker search is open' });
    expect(await s.replayer.depth()).toBe(2);
    s.setAnswer(() => ({ kind: 'written' }));
    expect(await s.run(s.replayer.pass())).toMatchObject({ replayed: 2, remaining: 0 });
  });

  it('dry run lists what would happen and changes nothing; park moves pending records without re-driving', async () => {
    const s = await setup();
    await s.deadLetter('indexer', cmd('e1', 't'));
    await s.deadLetter('nobody', cmd('e1', 'u'));
    const dry = await s.run(s.replayer.pass({ dryRun: true }));
    expect(dry.plan!.map((p) => p.targets)).toEqual([['search'], []]);
    expect(dry.remaining).toBe(2);
    expect(s.seen).toEqual([]);
    expect(await s.run(s.replayer.pass({ action: 'park', limit: 1 }))).toMatchObject({ parked: 1, remaining: 1 });
    expect(s.seen).toEqual([]);
    expect(await s.replayer.depth()).toBe(1);
  });

  it('--since re-drives dead letters from that time on, even ones already handled', async () => {
    const s = await setup();
    await s.deadLetter('indexer', cmd('e1', 'old'));
    s.clock.increment(60_000);
    const since = s.clock.now();
    await s.deadLetter('indexer', cmd('e1', 'new'));
    expect(await s.run(s.replayer.pass())).toMatchObject({ replayed: 2 });
    s.seen.length = 0;
    expect(await s.run(s.replayer.pass({ since }))).toMatchObject({ replayed: 1, skipped: 1 });
    expect(s.seen.map((x) => JSON.parse(x.rec.value!).tag)).toEqual(['new']);
  });

  it('is rate-limited: N re-drives take (N-1)/rate seconds of (simulated) time', async () => {
    const s = await setup({ ratePerSec: 10 });
    for (let i = 0; i < 5; i++) await s.deadLetter('indexer', cmd('e1', `t${i}`));
    const t0 = s.clock.now();
    expect(await s.run(s.replayer.pass())).toMatchObject({ replayed: 5 });
    expect(s.clock.now() - t0).toBeGreaterThanOrEqual(400);
    expect(s.clock.now() - t0).toBeLessThan(600);
  });
});

describe('RateLimiter', () => {
  it('spaces takes evenly at the rate', async () => {
    const clock = new SimulatedClock(0);
    const limiter = new RateLimiter(4, clock);
    const at: number[] = [];
    await onSimulatedTime(
      (async () => {
        for (let i = 0; i < 5; i++) {
          await limiter.take();
          at.push(clock.now());
        }
      })(),
      clock,
      { stepMs: 5 },
    );
    expect(at).toEqual([0, 250, 500, 750, 1000]);
  });
});
