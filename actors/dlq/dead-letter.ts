// The dead letter topic: every record carries where it came from and why it failed, as headers.
import type { CommandLog, LogRecord } from '../../adapters/kafka/port.ts';
import type { ErrorClass } from '../../lib/classify.ts';

export interface DeadLetter {
  /** The failed record as read from its source topic (value kept byte for byte). */
  source: Pick<LogRecord, 'topic' | 'partition' | 'offset' | 'key' | 'value'> & { headers?: Record<string, string> };
  consumer: string;
  errorClass: ErrorClass;
  code: string;
  message: string;
  attempts: number;
  firstFailureAt: number;
  lastFailureAt: number;
}

export const H = {
  sourceTopic: 'x-source-topic',
  sourcePartition: 'x-source-partition',
  sourceOffset: 'x-source-offset',
  consumer: 'x-consumer',
  errorClass: 'x-error-class',
  errorCode: 'x-error-code',
  errorMessage: 'x-error-message',
  attempts: 'x-attempts',
  firstFailureAt: 'x-first-failure-at',
  lastFailureAt: 'x-last-failure-at',
  replays: 'x-replays',
} as const;

export function deadLetterHeaders(d: DeadLetter): Record<string, string> {
  // A record re-driven from the DLQ keeps its original source position (its version) and its replay count.
  const origin = d.source.headers?.[H.sourceTopic] ? d.source.headers : undefined;
  return {
    [H.sourceTopic]: origin?.[H.sourceTopic] ?? d.source.topic,
    [H.sourcePartition]: origin?.[H.sourcePartition] ?? String(d.source.partition),
    [H.sourceOffset]: origin?.[H.sourceOffset] ?? d.source.offset,
    [H.consumer]: d.consumer,
    [H.errorClass]: d.errorClass,
    [H.errorCode]: d.code,
    [H.errorMessage]: d.message.slice(0, 1_000),
    [H.attempts]: String(d.attempts),
    [H.firstFailureAt]: new Date(d.firstFailureAt).toISOString(),
    [H.lastFailureAt]: new Date(d.lastFailureAt).toISOString(),
    [H.replays]: d.source.headers?.[H.replays] ?? '0',
  };
}

export interface DeadLetterSink {
  send(d: DeadLetter): Promise<void>;
}

export function createDeadLetterSink(log: CommandLog, topic: string, onSent?: (d: DeadLetter) => void): DeadLetterSink {
  return {
    async send(d) {
      await log.produce(topic, [{ key: d.source.key, value: d.source.value ?? '', headers: deadLetterHeaders(d) }]);
      onSent?.(d);
    },
  };
}
