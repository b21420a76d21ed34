// `npm start`: runs the daemon with the configured profile (embedded by default). SIGTERM/SIGINT drain and
// exit 0; a supervision give-up exits 1 so a process supervisor restarts us (replay covers in-flight work).
import { ConfigError, loadConfig } from './config/index.ts';
import { parseStartArgs, START_USAGE } from './cli/start-options.ts';
import { startDaemon, type Daemon } from './daemon.ts';
import type { DaemonContext } from './features/feature.ts';
import { createLogger } from './lib/logger.ts';
import { installCrashHandlers, writeCrashRecording } from './features/dashboard/crash.ts';

async function main(): Promise<void> {
  const args = parseStartArgs(process.argv.slice(2));
  if (args.help || args.problems.length > 0) {
    for (const p of args.problems) process.stderr.write(`tagstream: ${p}\n`);
    (args.help ? process.stdout : process.stderr).write(`${START_USAGE}\n`);
    process.exit(args.help ? 0 : 2);
  }
  let config;
  try {
    config = loadConfig({ overrides: args.overrides });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tagstream: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  let exitCode = 0;
  // A give-up or crash can come during start-up, before startDaemon resolves: record what exists by then.
  let context: DaemonContext | undefined;
  let daemon: Daemon | undefined;
  installCrashHandlers(() => context && { context });
  daemon = await startDaemon(config, {
    logger: createLogger({ level: config.log.level, format: config.log.format }),
    onContext: (c) => void (context = c),
    onFatal: (path, err) => {
      exitCode = 1;
      writeCrashRecording(context && { context }, `supervision gave up at ${path}`, err);
      if (!daemon) return process.exit(exitCode); // still starting: nothing to drain, replay covers it
      void daemon.stop('fatal supervision failure').then(() => process.exit(exitCode));
    },
  });
  const running = daemon;
  // The start banner is printed whatever the log level; with JSON logs it is a JSON line too (log collectors).
  const banner = `tagstream (${config.profile}) listening on ${running.url} — dashboard ${running.url}/dashboard/, status ${running.url}/status, metrics ${running.url}/metrics`;
  const json = config.log.format === 'json' || (config.log.format === 'auto' && !process.stdout.isTTY);
  process.stdout.write(json ? `${JSON.stringify({ level: 30, time: running.context.clock.now(), name: 'tagstream', url: running.url, msg: banner })}\n` : `${banner}\n`);
  const shutdown = (sig: string) => void running.stop(sig).then(() => process.exit(exitCode));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`tagstream failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
