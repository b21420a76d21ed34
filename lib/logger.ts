// pino root logger; actors get child loggers named by their path in the supervision tree. JSON lines for
// machines; on a terminal (or with format 'pretty') one readable line per record, same fields.
import { Writable } from 'node:stream';
import { pino, type Logger, type LoggerOptions } from 'pino';
import { messageWithCauses, stackWithCauses } from './errors.ts';

export type { Logger };

/** 'auto': readable when the destination is a terminal, JSON otherwise. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerSetup {
  level?: string;
  name?: string;
  destination?: NodeJS.WritableStream;
  format?: LogFormat;
}

export function createLogger(opts: LoggerSetup = {}): Logger {
  const options: LoggerOptions = {
    name: opts.name ?? 'tagstream',
    level: opts.level ?? 'info',
    redact: { paths: ['*.password', '*.secret', '*.adminToken', '*.tokenSecret', 'config.*.password'], censor: '***' },
    serializers: { err: serializeError },
  };
  const destination = opts.destination ?? process.stdout;
  const tty = (destination as { isTTY?: boolean }).isTTY === true;
  const pretty = opts.format === 'pretty' || ((opts.format ?? 'auto') === 'auto' && tty);
  if (pretty) return pino(options, prettyStream(destination, { color: tty }));
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/** pino's error serializer, each message and stack in the chain of causes said once (lib/errors messageWithCauses). */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  return Object.assign(pino.stdSerializers.err(err), { message: messageWithCauses(err), stack: stackWithCauses(err) });
}

export function actorLogger(root: Logger, path: string): Logger {
  return root.child({ actor: path });
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '\x1b[90m'],
  20: ['DEBUG', '\x1b[36m'],
  30: ['INFO ', '\x1b[32m'],
  40: ['WARN ', '\x1b[33m'],
  50: ['ERROR', '\x1b[31m'],
  60: ['FATAL', '\x1b[35m'],
};
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'actor', 'err']);

/** One pino JSON record as a line: `12:00:01.234 INFO  [/tagstream/shards/3] message key=value …`, then the stack. */
export function formatPretty(record: Record<string, unknown>, opts: { color?: boolean } = {}): string {
  const [label, color] = LEVELS[record.level as number] ?? [String(record.level).toUpperCase().padEnd(5), ''];
  const paint = (s: string, c: string) => (opts.color && c ? `${c}${s}\x1b[0m` : s);
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
  const where = typeof record.actor === 'string' ? ` ${paint(`[${record.actor}]`, '\x1b[90m')}` : '';
  const fields = Object.entries(record)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${paint(k, '\x1b[90m')}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  const err = record.err as { type?: string; message?: string; stack?: string } | undefined;
  const stack = err ? `\n    ${(err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`).split('\n').join('\n    ')}` : '';
  return `${paint(time, '\x1b[90m')} ${paint(label, color)}${where} ${String(record.msg ?? '')}${fields ? ` ${fields}` : ''}${stack}\n`;
}

function prettyStream(out: NodeJS.WritableStream, opts: { color: boolean }): pino.DestinationStream {
  let pending = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      pending += chunk.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let text = `${line}\n`;
        try {
          text = formatPretty(JSON.parse(line) as Record<string, unknown>, opts);
        } catch {
          // not a JSON record: pass it through as written
        }
        out.write(text);
      }
      cb();
    },
  });
  return w as unknown as pino.DestinationStream;
}
