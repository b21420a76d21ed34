import { describe, expect, it } from 'vitest';
import { runCli } from '../../../cli.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, o: (s: string) => out.push(s), e: (s: string) => err.push(s) };
}

describe('tagstream config check', () => {
  it('prints the effective config with secrets masked', async () => {
    const c = capture();
    const code = await runCli(['config', 'check'], c.o, c.e);
    expect(code).toBe(0);
    const text = c.out.join('\n');
    expect(text).toContain('"adminToken": "***"');
    expect(text).not.toContain('dev-admin-token');
    expect(text).toMatch(/config ok \(profile embedded\)/);
  });

  it('lists every problem and exits non-zero', async () => {
    const saved = { ...process.env };
    process.env.TAGSTREAM_HTTP__PORT = 'not-a-port';
    process.env.TAGSTREAM_RETRY__RETRIES = '-1';
    try {
      const c = capture();
      expect(await runCli(['config', 'check'], c.o, c.e)).toBe(1);
      const text = c.err.join('\n');
      expect(text).toMatch(/2 problem/);
      expect(text).toMatch(/http\.port/);
      expect(text).toMatch(/retry\.retries/);
    } finally {
      process.env = saved;
    }
  });

  it('answers an unknown command with usage and exit 2', async () => {
    const c = capture();
    expect(await runCli(['frobnicate'], c.o, c.e)).toBe(2);
    expect(c.err.join('\n')).toMatch(/usage/);
  });
});
