// The flight recorder's crash path for `npm start`: on an uncaught exception, an unhandled rejection or a
// supervision give-up, the recording is written to flightRecorder.dir (synchronously) before the process exits,
// so whoever is paged finds the minutes before the crash on disk and can open them on the dashboard.
import { errorMessage } from '../../lib/errors.ts';
import type { DaemonContext } from '../feature.ts';
import { dashboardKey } from '../keys.ts';

/** What the crash path needs of a daemon: its context, which exists early in start-up (before the daemon does). */
export type CrashTarget = { context: DaemonContext } | undefined;

/**
 * Writes the recording; returns its path, or null when there is nothing to record yet (a crash before the daemon's
 * context existed), no recorder (dashboard not attached), or writing failed.
 */
export function writeCrashRecording(target: CrashTarget, reason: string, error?: unknown, log: (s: string) => void = (s) => process.stderr.write(s + '\n')): string | null {
  if (!target) {
    log(`tagstream: ${reason} before the daemon was built: no flight recording to write`);
    return null;
  }
  const api = target.context.features.api(dashboardKey);
  if (!api?.flightRecorder) return null;
  try {
    const file = api.flightRecorder.writeToDisk(target.context.config.flightRecorder.dir, reason, error);
    log(`tagstream: flight recording written to ${file}`);
    return file;
  } catch (err) {
    log(`tagstream: could not write the flight recording: ${errorMessage(err)}`);
    return null;
  }
}

/** Process-wide handlers: record, then exit 1 (a process supervisor restarts us; replay covers in-flight work). */
/** Install before start-up: `target` answers with whatever exists at the moment of the crash. */
export function installCrashHandlers(target: () => CrashTarget, exit: (code: number) => void = (code) => process.exit(code)): void {
  const crash = (kind: string) => (err: unknown) => {
    process.stderr.write(`tagstream: ${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    writeCrashRecording(target(), kind, err);
    exit(1);
  };
  process.once('uncaughtException', crash('uncaughtException'));
  process.once('unhandledRejection', crash('unhandledRejection'));
}
