// `npm start`: runs the daemon with the configured profile (embedded by default). SIGTERM/SIGINT drain and
// exit 0; a supervision give-up exits 1 so a process supervisor restarts us (replay covers in-flight work).
import { ConfigError, loadConfig } from './config/index.ts';
import { startDaemon } from './daemon.ts';
import { installCrashHandlers, writeCrashRecording } from './features/dashboard/crash.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tagstream: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  let exitCode = 0;
  const daemon = await startDaemon(config, {
    onFatal: (path, err) => {
      exitCode = 1;
      writeCrashRecording(daemon, `supervision gave up at ${path}`, err);
      void daemon.stop('fatal supervision failure').then(() => process.exit(exitCode));
    },
  });
  installCrashHandlers(daemon);
  process.stdout.write(`tagstream (${config.profile}) listening on ${daemon.url} — dashboard ${daemon.url}/dashboard/, status ${daemon.url}/status, metrics ${daemon.url}/metrics\n`);
  const shutdown = (sig: string) => void daemon.stop(sig).then(() => process.exit(exitCode));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`tagstream failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
