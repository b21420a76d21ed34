// A classified driver error is logged with the driver's message once. A BackendError keeps its driver's message
// and has that driver error as cause; pino's stock serializer joins every message in the chain, so it said
// "x: x" (and printed the driver's stack twice).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { toKafkaError } from '../../../adapters/kafka/errors.ts';
import { toPgError } from '../../../adapters/pg/errors.ts';
import { messageWithCauses, stackWithCauses } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/logger.ts';

const denied = () => toPgError(Object.assign(new Error('permission denied for table tag_assoc'), { code: '42501' }));

function logged(err: unknown): { message: string; stack: string; source?: string } {
  const lines: string[] = [];
  const destination = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
  createLogger({ destination, format: 'json' }).warn({ err }, 'write failed');
  return (JSON.parse(lines.join('')) as { err: { message: string; stack: string; source?: string } }).err;
}

describe('an error and its causes, said once', () => {
  it('before: the stock serializer repeats a BackendError’s message and stack', () => {
    const out = pino.stdSerializers.err(denied());
    expect(out.message).toBe('permission denied for table tag_assoc: permission denied for table tag_assoc');
    expect(out.stack.match(/permission denied/g)).toHaveLength(2);
  });

  it('after: the log says the driver’s message once, its stack once, with the verdict beside it', () => {
    const out = logged(denied());
    expect(out).toMatchObject({ message: 'permission denied for table tag_assoc', source: 'pg:42501' });
    expect(out.stack.match(/permission denied/g)).toHaveLength(1);
    expect(out.stack).not.toContain('caused by');
  });

  it('kafkajs’ give-up wrapping a connection error: one message however deep the copies go', () => {
    const conn = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError' });
    const gaveUp = Object.assign(new Error(conn.message), { name: 'KafkaJSNonRetriableError', cause: conn });
    expect(messageWithCauses(toKafkaError(gaveUp))).toBe('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  });

  it('a wrapper that adds words keeps them, and a distinct cause is still shown', () => {
    const wrapped = new Error('apply failed', { cause: denied() });
    expect(messageWithCauses(wrapped)).toBe('apply failed: permission denied for table tag_assoc');
    const stack = stackWithCauses(wrapped);
    expect(stack).toMatch(/^Error: apply failed\n/);
    expect(stack.match(/caused by: /g)).toHaveLength(1);
    expect(logged(wrapped).message).toBe('apply failed: permission denied for table tag_assoc');
  });

  it('a wrapper whose message already quotes its cause does not quote it again', () => {
    const inner = new Error('connect ECONNREFUSED');
    expect(messageWithCauses(new Error(`locating the primary: ${inner.message}`, { cause: inner }))).toBe('locating the primary: connect ECONNREFUSED');
  });

  it('anything that is not an error is described as itself', () => {
    expect(messageWithCauses('plain')).toBe('plain');
    expect(stackWithCauses(42)).toBe('42');
  });
});
