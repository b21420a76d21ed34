// The counter folder: every cluster's deltas are folded on the injected clock's beat, a cluster whose folds
// fail is retried on the next beat without holding up the others, and a failure streak is logged once.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CounterFolder, type FoldTarget } from '../../../actors/shard-writer/counter-folder.ts';
import { SimulatedClock } from '../../../lib/clock.ts';
import { createLogger } from '../../../lib/logger.ts';

function logLines() {
  const lines: Array<{ level: number; msg: string; cluster?: string }> = [];
  const destination = new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk))), cb()) });
  return { lines, logger: createLogger({ destination, format: 'json', level: 'info' }) };
}

/** A store whose folds succeed or fail as `ok` says when they run; counts how many ran. */
function target(ok: () => boolean) {
  const t = { calls: 0, async foldCounters() {
    t.calls++;
    if (!ok()) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    return 3;
  } };
  return t satisfies FoldTarget;
}

const settle = () => new Promise((r) => setImmediate(r));

describe('CounterFolder', () => {
  it('folds each cluster once per beat; a failing cluster is retried each beat and logged once per streak', async () => {
    const clock = new SimulatedClock();
    const { lines, logger } = logLines();
    let pg1Up = true;
    const pg0 = target(() => true);
    const pg1 = target(() => pg1Up);
    const outcomes: string[] = [];
    const folder = new CounterFolder(new Map([['pg0', pg0], ['pg1', pg1]]), { clock, logger, everyMs: 1_000, onFold: (c, o) => outcomes.push(`${c}:${'rows' in o ? o.rows : 'failed'}`) });
    folder.start();
    const beat = async () => {
      clock.increment(1_000);
      await settle();
    };

    await settle();
    expect([pg0.calls, pg1.calls]).toEqual([0, 0]); // the first fold comes a beat after start
    await beat();
    expect([pg0.calls, pg1.calls]).toEqual([1, 1]);

    pg1Up = false;
    await beat();
    await beat();
    expect([pg0.calls, pg1.calls]).toEqual([3, 3]);
    expect(lines.filter((l) => l.level === 40).map((l) => l.cluster)).toEqual(['pg1']);

    pg1Up = true;
    await beat();
    expect(outcomes).toEqual(['pg0:3', 'pg1:3', 'pg0:3', 'pg1:failed', 'pg0:3', 'pg1:failed', 'pg0:3', 'pg1:3']);
    expect(lines.filter((l) => l.msg === 'counter folds work again').map((l) => l.cluster)).toEqual(['pg1']);

    await folder.stop();
    expect(clock.pending()).toBe(0);
    await beat();
    expect([pg0.calls, pg1.calls]).toEqual([4, 4]);
  });

  it('stop waits for a fold in flight', async () => {
    const clock = new SimulatedClock();
    let finish: (rows: number) => void = () => undefined;
    let done = false;
    const slow: FoldTarget = { foldCounters: () => new Promise<number>((r) => (finish = r)).finally(() => (done = true)) };
    const folder = new CounterFolder(new Map([['pg0', slow]]), { clock, logger: logLines().logger, everyMs: 500 });
    folder.start();
    clock.increment(500);
    await settle();
    let stopped = false;
    const stopping = folder.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    finish(1);
    await stopping;
    expect(done).toBe(true);
  });
});
