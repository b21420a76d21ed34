// A privilege error stops the actor that met it with an alert (issue 15 item 5): the crash event carries the
// error's classification, and an error only an operator can fix alerts once per actor and error per period.
import { describe, expect, it } from 'vitest';
import { needsOperator } from '../../../adapters/operator-errors.ts';
import { toKafkaError } from '../../../adapters/kafka/errors.ts';
import { toPgError } from '../../../adapters/pg/errors.ts';
import { classify } from '../../../lib/classify.ts';
import { operatorAlerts, type OperatorAlert } from '../../../actors/runtime/operator-alerts.ts';
import { restartWithBackoff } from '../../../actors/runtime/policy.ts';
import { ActorSystem, type LifecycleEvent } from '../../../actors/runtime/system.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { silentLogger } from '../../../lib/logger.ts';

describe('operator alerts', () => {
  it('privileges and credentials need an operator; a dead connection or bad data does not', () => {
    for (const s of ['pg:42501', 'pg:28P01', 'redis:NOPERM', 'es:403', 'kafka:TOPIC_AUTHORIZATION_FAILED']) expect(needsOperator(s), s).toBe(true);
    for (const s of ['pg:40001', 'pg:22P02', 'pg:42P01', 'node:ECONNREFUSED', 'es:429', 'unknown:TypeError']) expect(needsOperator(s), s).toBe(false);
    // kafkajs names a refused SASL handshake by its error name, not by the protocol type.
    const sasl = Object.assign(new Error('SASL PLAIN authentication failed'), { name: 'KafkaJSSASLAuthenticationError' });
    expect(needsOperator(classify(toKafkaError(sasl)).source)).toBe(true);
  });

  it('a writer crashing on a revoked privilege alerts once per period, not at every restart; its crash event names the source', async () => {
    const clock = new SimulatedClock(0);
    const system = new ActorSystem({ clock, logger: silentLogger() });
    const events: LifecycleEvent[] = [];
    const alerts: OperatorAlert[] = [];
    system.onLifecycle((e) => events.push(e));
    system.onLifecycle(operatorAlerts({ clock, everyMs: 60_000, onAlert: (a) => alerts.push(a) }));
    const revoked = toPgError(Object.assign(new Error('permission denied for table tagstream_assoc'), { code: '42501' }));
    const writer = system.spawn({
      name: 'shard-0',
      kind: 'shard-writer',
      init: () => null,
      receive: async (): Promise<null> => {
        throw revoked;
      },
      policy: restartWithBackoff({ backoff: { initialMs: 100, multiplier: 1, maxMs: 100, jitter: 0 }, maxRestarts: 100, withinMs: 60_000 }),
    });
    const crashes = () => events.filter((e) => e.type === 'actor.crashed').length;
    for (let i = 0; i < 3; i++) {
      writer.tell({ type: 'write' });
      while (crashes() <= i) await new Promise((r) => setImmediate(r));
      clock.increment(100); // the restart's backoff
      while (events.filter((e) => e.type === 'actor.restarted').length <= i) await new Promise((r) => setImmediate(r));
    }
    expect(events.find((e) => e.type === 'actor.crashed')).toMatchObject({ kind: 'shard-writer', errorSource: 'pg:42501' });
    expect(alerts).toEqual([expect.objectContaining({ path: '/shard-0', kind: 'shard-writer', source: 'pg:42501' })]);
    clock.increment(60_000);
    writer.tell({ type: 'write' });
    while (crashes() <= 3) await new Promise((r) => setImmediate(r));
    expect(alerts).toHaveLength(2);
    system.shutdown();
  });
});
