// The kafkajs glue that needs no broker: its logs land in pino at the intended levels, its messages become
// LogRecords, and its errors classify as the retry machine expects.
import kafkajs from 'kafkajs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pinoLogCreator, toLogRecord } from '../../../../adapters/kafka/kafka-client.ts';
import { toKafkaError } from '../../../../adapters/kafka/errors.ts';
import { classify } from '../../../../lib/classify.ts';
import { createLogger } from '../../../../lib/logger.ts';

const { logLevel, KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSNonRetriableError } = kafkajs;

function capture(level: string): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level, destination }) };
}

describe('pinoLogCreator', () => {
  it('keeps errors and warnings, demotes kafkajs info to debug and its debug to trace', () => {
    const { lines, logger } = capture('trace');
    const log = pinoLogCreator(logger)(logLevel.DEBUG);
    const entry = (level: number, message: string) => log({ namespace: 'Consumer', level, label: '', log: { timestamp: 'x', logger: 'kafkajs', message, groupId: 'g' } });
    entry(logLevel.ERROR, 'crash');
    entry(logLevel.WARN, 'careful');
    entry(logLevel.INFO, 'Starting');
    entry(logLevel.DEBUG, 'request');
    entry(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees');
    expect(lines.map((l) => [l.level, l.msg, l.ns, l.groupId, l.component])).toEqual([
      [50, 'crash', 'Consumer', 'g', 'kafkajs'],
      [40, 'careful', 'Consumer', 'g', 'kafkajs'],
      [20, 'Starting', 'Consumer', 'g', 'kafkajs'],
      [10, 'request', 'Consumer', 'g', 'kafkajs'],
      [20, 'Limiting retries for the idempotent producer may invalidate EoS guarantees', 'Consumer', 'g', 'kafkajs'],
    ]);
    expect(lines.every((l) => !('timestamp' in l) && l.logger === undefined)).toBe(true);
  });
});

describe('toLogRecord', () => {
  it('decodes key, value and headers (first value of a repeated header) as UTF-8', () => {
    const r = toLogRecord('t', 3, {
      key: Buffer.from('bug-1'),
      value: Buffer.from('{"op":"attach"}'),
      timestamp: '1700000000000',
      attributes: 0,
      offset: '42',
      headers: { a: Buffer.from('x'), b: [Buffer.from('y1'), 'y2'], c: undefined },
    });
    expect(r).toEqual({ topic: 't', partition: 3, offset: '42', key: 'bug-1', value: '{"op":"attach"}', headers: { a: 'x', b: 'y1' }, timestamp: 1_700_000_000_000 });
    expect(toLogRecord('t', 0, { key: null, value: null, timestamp: '1', attributes: 0, offset: '0', headers: {} })).toMatchObject({ key: null, value: null, headers: {} });
  });
});

describe('kafkajs errors classify at the command log boundary', () => {
  it('retries connection trouble and exhausted retries, reroutes leadership changes, fails on the rest', () => {
    const conn = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1');
    expect(classify(toKafkaError(conn)).class).toBe('retry');
    expect(classify(toKafkaError(new KafkaJSNumberOfRetriesExceeded(conn, { retryCount: 5, retryTime: 1_000 }))).class).toBe('retry');
    // The shape kafkajs builds from protocol error code 6 (src/protocol/error.js).
    const notLeader = { type: 'NOT_LEADER_OR_FOLLOWER', code: 6, retriable: true, message: 'This server is not the leader for that topic-partition' };
    expect(classify(toKafkaError(new KafkaJSProtocolError(notLeader as unknown as string))).class).toBe('reroute');
    expect(classify(toKafkaError(new KafkaJSNonRetriableError('bad config'))).class).toBe('fatal');
    // What a produce to a dead broker rejects with: an inner retrier gave up, the cause says why.
    const gaveUp = Object.assign(new KafkaJSNonRetriableError(conn.message), { cause: conn });
    expect(classify(toKafkaError(gaveUp))).toEqual({ class: 'retry', source: 'kafka:KafkaJSConnectionError' });
    expect(classify(toKafkaError(Object.assign(new KafkaJSNonRetriableError('x'), { cause: new TypeError('x') }))).class).toBe('fatal');
  });
});
