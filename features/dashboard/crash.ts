// The flight recorder's crash path for `npm start`: on an uncaught exception, an unhandled rejection or a
// supervision give-up, the recording is written to flightRecorder.dir (synchronously) before the process exits,
// so whoever is paged finds the minutes before the crash on disk and can open them on the dashboard.
import type { Daemon } from '../../daemon.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { DashboardApi } from './index.ts';

/** Writes the recording; returns its path, or null when there is no recorder (dashboard not attached) or it failed. */
export function writeCrashRecording(daemon: Daemon, reason: string, error?: unknown, log: (s: string) => void = (s) => process.stderr.write(s + '\n')): string | null {
  const api = daemon.context.features.get('dashboard')?.api as DashboardApi | undefined;
  if (!api?.flightRecorder) return null;
  try {
    const file = api.flightRecorder.writeToDisk(daemon.config.flightRecorder.dir, reason, error);
    log(`tagstream: flight recording written to ${file}`);
    return file;
  } catch (err) {
    log(`tagstream: could not write the flight recording: ${errorMessage(err)}`);
    return null;
  }
}

/** Process-wide handlers: record, then exit 1 (a process supervisor restarts us; replay covers in-flight work). */
export function installCrashHandlers(daemon: Daemon, exit: (code: number) => void = (code) => process.exit(code)): void {
  const crash = (kind: string) => (err: unknown) => {
    process.stderr.write(`tagstream: ${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    writeCrashRecording(daemon, kind, err);
    exit(1);
  };
  process.once('uncaughtException', crash('uncaughtException'));
  process.once('unhandledRejection', crash('unhandledRejection'));
}
