// Strict configuration: unknown keys in the file, unknown TAGSTREAM_* variables and unknown override keys are
// problems listed with every other one, each with the closest valid name.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/index.ts';
import { closest, variableFor } from '../../../config/unknown-keys.ts';
import { runCli } from '../../../cli.ts';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function configFile(content: unknown): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'tagstream-config-')), 'config.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('strict configuration', () => {
  it('names a mistyped variable and the variable that was meant', () => {
    const problems = problemsOf(() => loadConfig({ env: { TAGSTREAM_HTTP__PROT: '9090', TAGSTREAM_WRITER__BATCHSIZE: '5' } }));
    expect(problems).toEqual(
      expect.arrayContaining([
        'TAGSTREAM_HTTP__PROT: unknown setting http.prot; did you mean TAGSTREAM_HTTP__PORT (http.port)?',
        'TAGSTREAM_WRITER__BATCHSIZE: unknown setting writer.batchsize; did you mean TAGSTREAM_WRITER__BATCH_SIZE (writer.batchSize)?',
      ]),
    );
    expect(problems).toHaveLength(2);
  });

  it('names an unknown key of the config file, at any depth, with the closest valid key', () => {
    const file = configFile({ kafak: {}, writer: { batchsize: 5, groupCommit: { maxRow: 10 } }, postgres: { clusters: [{ name: 'a', nodes: [{ name: 'n', host: 'h', port: 1, hots: 'x' }], database: 'd', user: 'u' }] } });
    const problems = problemsOf(() => loadConfig({ env: { TAGSTREAM_CONFIG: file } }));
    expect(problems).toContain('kafak: unknown key; did you mean kafka?');
    expect(problems).toContain('writer.batchsize: unknown key; did you mean writer.batchSize?');
    expect(problems).toContain('writer.groupCommit.maxRow: unknown key; did you mean writer.groupCommit.maxRows?');
    expect(problems).toContain('postgres.clusters.0.nodes.0.hots: unknown key; did you mean postgres.clusters.0.nodes.0.host?');
  });

  it('lists the valid keys when nothing is close', () => {
    const problems = problemsOf(() => loadConfig({ overrides: { http: { zzzzzzzzzz: 1 } } }));
    expect(problems).toEqual(['http.zzzzzzzzzz: unknown key; valid keys here: host, port, adminToken, tokenSecret, advertisedUrl']);
  });

  it('reports unknown keys together with invalid values', () => {
    const problems = problemsOf(() => loadConfig({ env: { TAGSTREAM_HTTP__PORT: '70000', TAGSTREAM_RETRY__RETRIEZ: '2' } }));
    expect(problems.some((p) => p.startsWith('http.port:'))).toBe(true);
    expect(problems).toContain('TAGSTREAM_RETRY__RETRIEZ: unknown setting retry.retriez; did you mean TAGSTREAM_RETRY__RETRIES (retry.retries)?');
  });

  it('checks keys inside a JSON value of a variable', () => {
    const problems = problemsOf(() => loadConfig({ env: { TAGSTREAM_WRITER__GROUP_COMMIT: '{"maxRows":10,"maxInflight":2}' } }));
    expect(problems).toEqual(['TAGSTREAM_WRITER__GROUP_COMMIT: unknown setting writer.groupCommit.maxInflight; did you mean writer.groupCommit.maxInFlight?']);
  });

  it('accepts every valid spelling, records (shard map keys) and the variables that are not settings', () => {
    const cfg = loadConfig({ env: { TAGSTREAM_WRITER__BATCH_SIZE: '5', TAGSTREAM_SHARDS__MAP: '{"3":"pg1"}', TAGSTREAM_TEST_CONTINUE: '1', TAGSTREAM_NODE_VERSION: '24.0.0' } });
    expect(cfg.writer.batchSize).toBe(5);
    expect(cfg.shards.map).toEqual({ '3': 'pg1' });
  });

  it('`config check` exits 1 and lists the typo', async () => {
    const saved = { ...process.env };
    process.env.TAGSTREAM_WRITER__BATCHSIZE = '5';
    try {
      const err: string[] = [];
      expect(await runCli(['config', 'check'], () => {}, (s) => err.push(s))).toBe(1);
      expect(err.join('\n')).toContain('did you mean TAGSTREAM_WRITER__BATCH_SIZE');
    } finally {
      process.env = saved;
    }
  });

  it('spells variables and suggestions', () => {
    expect(variableFor(['writer', 'groupCommit', 'maxInFlight'])).toBe('TAGSTREAM_WRITER__GROUP_COMMIT__MAX_IN_FLIGHT');
    expect(closest('kafak', ['kafka', 'redis'])).toBe('kafka');
    expect(closest('BATCHSIZE', ['batchSize', 'batchWindowMs'])).toBe('batchSize');
    expect(closest('something', ['kafka', 'redis'])).toBeUndefined();
  });
});
