// pino root logger; actors get child loggers named by their path in the supervision tree.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    name: opts.name ?? 'tagstream',
    level: opts.level ?? 'info',
    redact: { paths: ['*.password', '*.secret', '*.adminToken', '*.tokenSecret', 'config.*.password'], censor: '***' },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

export function actorLogger(root: Logger, path: string): Logger {
  return root.child({ actor: path });
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
