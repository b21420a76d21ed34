// The crash path during start-up: a supervision give-up or an uncaught exception before startDaemon resolves
// used to read `daemon` before it existed (a ReferenceError instead of a flight recording). The context is handed
// out as soon as it exists, and the crash path records from it, or says plainly that there is nothing yet.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { startDaemon, type Daemon } from '../../../daemon.ts';
import { writeCrashRecording } from '../../../features/dashboard/crash.ts';
import { dashboardFeature } from '../../../features/dashboard/index.ts';
import type { DaemonContext, FeatureFactory } from '../../../features/feature.ts';
import { silentLogger } from '../../../lib/logger.ts';

let d: Daemon | undefined;
afterAll(async () => d?.stop());

describe('crash recording during start-up', () => {
  it('a crash before the context exists writes nothing and says so, without throwing', () => {
    const lines: string[] = [];
    expect(writeCrashRecording(undefined, 'supervision gave up at /tagstream/ingest', new Error('boom'), (s) => lines.push(s))).toBeNull();
    expect(lines).toEqual(['tagstream: supervision gave up at /tagstream/ingest before the daemon was built: no flight recording to write']);
  });

  it('a crash while the features start is recorded from the context handed out before them', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'crash-'));
    const config = loadConfig({ env: {}, overrides: { http: { port: 0 }, shards: { count: 4 }, kafka: { partitions: 2 }, flightRecorder: { dir } } });
    let handed: DaemonContext | undefined;
    let recorded: string | null = null;
    // Stands for a give-up during start-up: it happens after the context exists, before startDaemon resolves.
    const crashesWhileStarting: FeatureFactory = () => ({ name: 'crashes-while-starting', start: async () => void (recorded = writeCrashRecording(handed && { context: handed }, 'supervision gave up at /tagstream/ingest', new Error('boom'), () => undefined)) });
    d = await startDaemon(config, { listen: false, logger: silentLogger(), features: [dashboardFeature, crashesWhileStarting], onContext: (c) => void (handed = c) });
    expect(handed).toBe(d.context);
    expect(recorded).not.toBeNull();
    expect(readdirSync(dir)).toEqual([path.basename(recorded!)]);
  });
});
