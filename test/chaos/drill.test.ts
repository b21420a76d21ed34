// The short drill that runs in CI: ~3 minutes of mixed load and seeded faults against two daemons of one
// deployment on the local profile — the failover leader SIGKILLed, the leader SIGSTOPped past its lease, a daemon
// restarted while an old primary is down and that primary started again — then the checker, which also reads
// every entity through every daemon. The long one is `npm run drill -- --minutes 30 [--daemons 3]`; results in
// BENCHMARKS.md.
//
// The drill runs as a child process, awaited asynchronously: a synchronous spawn would block this worker's
// event loop for minutes and vitest's worker RPC ("onTaskUpdate") would time out and fail the run.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

function runDrill(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'drill/run.ts'), ...args], { cwd: root, env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ stdout, stderr, code }); });
  });
}

describe('chaos drill (short)', () => {
  it('ends with zero missing, zero extra, zero drift, exact counters, every command accounted for', async () => {
    const r = await runDrill(['--minutes', '3', '--seed', '1', '--rate', '30', '--daemons', '2'], 840_000);
    const lines = r.stdout.trim().split('\n');
    process.stdout.write(`${r.stdout}\n${r.stderr.slice(-2_000)}\n`);
    const summary = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    expect(summary).toMatchObject({ missing: 0, extra: 0, drift: 0, countersExact: true, unaccounted: 0 });
    expect((summary.faults as number) >= 3).toBe(true);
    // The fleet's faults ran, and no daemon ever answered from a diverged node or with a wrong final answer.
    expect(summary.daemons).toBe(2);
    expect(summary.kinds).toEqual(expect.arrayContaining(['leader-kill', 'leader-pause', 'daemon-restart-primary-down']));
    expect(summary).toMatchObject({ wrongReads: 0, divergedReads: 0, splitBrainSamples: 0 });
    expect(Object.keys(summary.perDaemon as object)).toEqual(['d0', 'd1']);
    // Non-critical endpoints degrade instead of failing. The done-criterion of ≥ 99.9 % is for the 30-minute
    // drill; in 3 minutes (~900 requests each) one stray 5xx is 0.1 %, so CI holds them to ≥ 99 % and prints the figures.
    const a = summary.availability as Record<string, number>;
    expect(a.popular).toBeGreaterThanOrEqual(99);
    expect(a.search).toBeGreaterThanOrEqual(99);
    expect(a['entity-read']).toBeGreaterThanOrEqual(99);
    expect((summary.ryw as { violations: number }).violations).toBe(0);
  }, 900_000);
});
