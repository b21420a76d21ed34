// Re-seeding a former primary: pg_rewind when it works and the node then streams; a fresh base backup otherwise.
import { describe, expect, it } from 'vitest';
import { reseedWith, type ReseedSteps } from '../../../services/pg/failover.ts';

function steps(opts: { rewind: string | null; streams: boolean[] }): { s: ReseedSteps; log: string[] } {
  const log: string[] = [];
  let streamCall = 0;
  const s: ReseedSteps = {
    rewind: async () => {
      log.push('rewind');
      return opts.rewind;
    },
    start: async (wait) => void log.push(wait ? 'start' : 'start (no wait)'),
    streaming: async () => {
      log.push('streaming?');
      if (!opts.streams[streamCall++]) throw new Error('not streaming within 30000 ms');
    },
    stop: async () => void log.push('stop'),
    basebackup: async () => void log.push('basebackup'),
    note: (line) => log.push(`note: ${line.split('\n')[0]}`),
  };
  return { s, log };
}

describe('reseedWith', () => {
  it('keeps a rewound node that streams', async () => {
    const { s, log } = steps({ rewind: null, streams: [true] });
    expect(await reseedWith(s)).toBe('pg_rewind');
    expect(log).toEqual(['rewind', 'start (no wait)', 'streaming?']);
  });

  it('re-seeds with a base backup when the rewound node never streams (its WAL was recycled)', async () => {
    const { s, log } = steps({ rewind: null, streams: [false, true] });
    expect(await reseedWith(s)).toBe('basebackup');
    expect(log).toEqual(['rewind', 'start (no wait)', 'streaming?', 'note: the rewound node did not stream (not streaming within 30000 ms); re-seeding with pg_basebackup', 'stop', 'basebackup', 'start', 'streaming?']);
  });

  it('re-seeds with a base backup when pg_rewind fails, and keeps its reason', async () => {
    const { s, log } = steps({ rewind: 'could not find previous WAL record', streams: [true] });
    expect(await reseedWith(s)).toBe('basebackup');
    expect(log).toEqual(['rewind', 'note: pg_rewind failed, re-seeding with pg_basebackup:', 'basebackup', 'start', 'streaming?']);
  });

  it('fails when even the base-backed node does not stream', async () => {
    const { s } = steps({ rewind: 'x', streams: [false] });
    await expect(reseedWith(s)).rejects.toThrow(/not streaming/);
  });
});
