// A cross-process lock on the run directory, so two test projects (or a test run and a developer's
// `npm run services -- up`) never start the same service twice. A lock whose owner died is taken over.
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { isAlive, waitFor } from './proc.ts';

export async function withRunLock<T>(runDir: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, 'services.lock');
  await waitFor('the services lock', () => tryLock(file), { timeoutMs, intervalMs: 200 });
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

function tryLock(file: string): boolean {
  try {
    const fd = openSync(file, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch {
    let owner: number | undefined;
    try {
      owner = Number(readFileSync(file, 'utf8').trim()) || undefined;
    } catch {
      return false;
    }
    // A dead owner's lock is removed and retried on the next poll.
    // An empty file is a lock being written right now, not a dead one.
    if (owner === undefined || owner === process.pid) return false;
    if (!isAlive(owner)) rmSync(file, { force: true });
    return false;
  }
}
