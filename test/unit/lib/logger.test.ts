// Logs: JSON lines when the destination is not a terminal (or format json), readable lines on a terminal.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, formatPretty } from '../../../lib/logger.ts';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const w = Object.assign(new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) }), { isTTY });
  return { w, text: () => chunks.join('') };
}

describe('logger', () => {
  it('auto: JSON when the destination is not a terminal', () => {
    const s = sink(false);
    createLogger({ destination: s.w }).info({ cluster: 'pg0' }, 'schema migrated');
    expect(JSON.parse(s.text())).toMatchObject({ level: 30, msg: 'schema migrated', cluster: 'pg0', name: 'tagstream' });
  });

  it('auto: a readable line on a terminal; json forces JSON there too', () => {
    const tty = sink(true);
    createLogger({ destination: tty.w }).child({ actor: '/tagstream/shards/3' }).warn({ reason: 'slow call', n: 2 }, 'breaker half-open');
    expect(tty.text()).toContain('\x1b['); // coloured
    // eslint-disable-next-line no-control-regex
    expect(tty.text().replace(/\x1b\[\d+m/g, '')).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  \[\/tagstream\/shards\/3\] breaker half-open reason="slow call" n=2\n$/);
    const forced = sink(true);
    createLogger({ destination: forced.w, format: 'json' }).info('x');
    expect(JSON.parse(forced.text())).toMatchObject({ msg: 'x' });
  });

  it('pretty lines carry every field, the error stack and no colour off a terminal; secrets stay redacted', () => {
    const s = sink(false);
    createLogger({ destination: s.w, format: 'pretty' }).error({ err: new Error('boom'), config: { pg: { password: 'hunter2' } } }, 'it failed');
    const text = s.text();
    expect(text).not.toContain('\x1b[');
    expect(text).toMatch(/ERROR it failed config=\{"pg":\{"password":"\*\*\*"\}\}\n {4}Error: boom\n {8}at /);
    expect(text).not.toContain('hunter2');
  });

  it('formats a record without time or message', () => {
    expect(formatPretty({ level: 30 })).toBe(' INFO  \n');
  });
});
