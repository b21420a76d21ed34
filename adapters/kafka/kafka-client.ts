// Builds the kafkajs client from our config: short timeouts, a bounded retry, TLS/SASL passed through,
// and kafkajs' own logs routed into our pino logger. The only file that knows kafkajs' option names.
import kafkajs, { type KafkaConfig, type KafkaMessage, type logCreator, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { Socket } from 'node:net';
import type { Logger } from '../../lib/logger.ts';
import type { Config } from '../../config/index.ts';
import type { LogRecord } from './port.ts';
import { fixIdleRequestQueueTimer } from './request-queue-fix.ts';

const { Kafka, logLevel } = kafkajs;
export type KafkaClient = InstanceType<typeof Kafka>;

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  ssl?: boolean;
  sasl?: Config['kafka']['sasl'];
  /** TCP connect timeout, ms. */
  connectionTimeoutMs?: number;
  /** Per request, ms. */
  requestTimeoutMs?: number;
  retry?: RetryOptions;
  /** Opens the TCP/TLS connections (default: kafkajs' own). Tests pass one that can cut them all. */
  socketFactory?: (args: { host: string; port: number; ssl: object | null | undefined; onConnect: () => void }) => Socket;
}

/** ~100+200+400+800+1600 ms of retrying, then the error surfaces to our own retry machine. */
export const defaultKafkaRetry: RetryOptions = { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5, factor: 0.2, multiplier: 2 };

export function createKafkaClient(opts: KafkaClientOptions, logger: Logger): KafkaClient {
  fixIdleRequestQueueTimer(); // no 1 ms timer per idle broker connection (see request-queue-fix.ts)
  const config: KafkaConfig = {
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    connectionTimeout: opts.connectionTimeoutMs ?? 3_000,
    authenticationTimeout: opts.connectionTimeoutMs ?? 3_000,
    requestTimeout: opts.requestTimeoutMs ?? 10_000,
    enforceRequestTimeout: true,
    retry: { ...defaultKafkaRetry, ...opts.retry },
    logLevel: kafkaLogLevel(logger),
    logCreator: pinoLogCreator(logger),
  };
  if (opts.ssl) config.ssl = true;
  if (opts.socketFactory) config.socketFactory = opts.socketFactory;
  if (opts.sasl) config.sasl = { mechanism: opts.sasl.mechanism, username: opts.sasl.username, password: opts.sasl.password } as SASLOptions;
  return new Kafka(config);
}

/** kafkajs filters before our creator sees anything: ask only for what pino will keep. */
function kafkaLogLevel(logger: Logger): number {
  if (logger.isLevelEnabled('trace')) return logLevel.DEBUG;
  if (logger.isLevelEnabled('debug')) return logLevel.INFO;
  if (logger.isLevelEnabled('warn')) return logLevel.WARN;
  if (logger.isLevelEnabled('error')) return logLevel.ERROR;
  return logLevel.NOTHING;
}

/**
 * Warnings about choices we made on purpose. Bounded producer retries: our retry machine retries, and a
 * producer is replaced after a failed send, so a rewound sequence number is never reused (kafka-command-log.ts).
 */
const EXPECTED_WARNINGS = [/^Limiting retries for the idempotent producer/];

/**
 * kafkajs logs through this. Its INFO is lifecycle chatter ("Starting", "Pausing fetching…") so it becomes
 * pino debug, and its DEBUG (per request) becomes trace; ERROR and WARN keep their level.
 */
export function pinoLogCreator(root: Logger): logCreator {
  const logger = root.child({ component: 'kafkajs' });
  return () => (entry) => {
    const { message, timestamp: _timestamp, logger: _logger, ...extra } = entry.log;
    const fields = { ns: entry.namespace, ...extra };
    const level = entry.level === logLevel.WARN && EXPECTED_WARNINGS.some((re) => re.test(message)) ? logLevel.INFO : entry.level;
    switch (level) {
      case logLevel.ERROR:
        return logger.error(fields, message);
      case logLevel.WARN:
        return logger.warn(fields, message);
      case logLevel.INFO:
        return logger.debug(fields, message);
      default:
        return logger.trace(fields, message);
    }
  };
}

export function toLogRecord(topic: string, partition: number, m: KafkaMessage): LogRecord {
  const headers: Record<string, string> = {};
  const raw = m.headers;
  if (raw) {
    for (const k in raw) {
      const v = raw[k];
      const first = Array.isArray(v) ? v[0] : v;
      if (first !== undefined) headers[k] = first.toString();
    }
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key === null ? null : m.key.toString('utf8'),
    value: m.value === null ? null : m.value.toString('utf8'),
    headers,
    timestamp: Number(m.timestamp),
  };
}
