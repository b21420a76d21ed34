import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskSecrets } from '../../../config/index.ts';

describe('loadConfig', () => {
  it('defaults to the embedded profile and freezes the result', () => {
    const cfg = loadConfig({ env: {} });
    expect(cfg.profile).toBe('embedded');
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.http)).toBe(true);
    expect(cfg.http.host).toBe('127.0.0.1');
  });

  it('local profile points at the launcher layout', () => {
    const cfg = loadConfig({ env: { TAGSTREAM_PROFILE: 'local', TAGSTREAM_SERVICES__BASE_PORT: '30000' } });
    expect(cfg.postgres.clusters[0]!.nodes.map((n) => n.port)).toEqual([30000, 30001, 30002]);
    expect(cfg.kafka.brokers).toEqual(['127.0.0.1:30200']);
    expect(cfg.elasticsearch.node).toBe('http://127.0.0.1:30300');
  });

  it('environment overrides nest with __ and parse JSON values', () => {
    const cfg = loadConfig({ env: { TAGSTREAM_HTTP__PORT: '9999', TAGSTREAM_WRITER__BATCH_SIZE: '10', TAGSTREAM_KAFKA__BROKERS: '["a:1","b:2"]' } });
    expect(cfg.http.port).toBe(9999);
    expect(cfg.writer.batchSize).toBe(10);
    expect(cfg.kafka.brokers).toEqual(['a:1', 'b:2']);
  });

  it('reports every problem at once with its path', () => {
    let caught: unknown;
    try {
      loadConfig({ env: { TAGSTREAM_HTTP__PORT: '70000', TAGSTREAM_WRITER__BATCH_SIZE: '0', TAGSTREAM_ELASTICSEARCH__INDEX: 'Bad Index', TAGSTREAM_SHARDS__MAP: '{"99":"nope"}' } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    expect(problems).toMatch(/http\.port/);
    expect(problems).toMatch(/writer\.batchSize/);
    expect(problems).toMatch(/elasticsearch\.index/);
    expect(problems).toMatch(/shards\.map\.99.*\[0, 16\)/);
    expect(problems).toMatch(/shards\.map\.99.*unknown cluster/);
    expect((caught as ConfigError).code).toBe('TS_ERR_CONFIG_INVALID');
  });

  it('refuses more concurrent group commits than the primary has connections', () => {
    expect(() => loadConfig({ env: { TAGSTREAM_POSTGRES__POOL_SIZE: '2', TAGSTREAM_WRITER__GROUP_COMMIT__MAX_IN_FLIGHT: '3' } })).toThrow(/writer\.groupCommit\.maxInFlight: must be ≤ postgres\.poolSize \(2\)/);
    expect(loadConfig({ env: { TAGSTREAM_POSTGRES__POOL_SIZE: '3', TAGSTREAM_WRITER__GROUP_COMMIT__MAX_IN_FLIGHT: '3' } }).writer.groupCommit.maxInFlight).toBe(3);
  });

  it('production requires real addresses and forbids fault injection', () => {
    let caught: ConfigError | undefined;
    try {
      loadConfig({ env: { TAGSTREAM_PROFILE: 'production', TAGSTREAM_FAULT_INJECTION: 'true' } });
    } catch (err) {
      caught = err as ConfigError;
    }
    const problems = caught!.problems.join('\n');
    expect(problems).toMatch(/faultInjection/);
    expect(problems).toMatch(/postgres\.clusters/);
    expect(problems).toMatch(/kafka\.brokers/);
    expect(problems).toMatch(/http\.adminToken/);
  });

  it('http.advertisedUrl: unset by default, an absolute http(s) URL when set, anything else refused by name', () => {
    expect(loadConfig({ env: {} }).http.advertisedUrl).toBeUndefined();
    expect(loadConfig({ env: { TAGSTREAM_HTTP__ADVERTISED_URL: 'http://tagstream-2.zone-b.internal:8080' } }).http.advertisedUrl).toBe('http://tagstream-2.zone-b.internal:8080');
    for (const bad of ['tagstream-2:8080', 'ftp://x/', '/relative']) {
      let caught: unknown;
      try {
        loadConfig({ env: { TAGSTREAM_HTTP__ADVERTISED_URL: bad } });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).message).toContain('http.advertisedUrl');
    }
  });

  it('rejects an unknown profile', () => {
    expect(() => loadConfig({ env: { TAGSTREAM_PROFILE: 'staging' } })).toThrow(/profile: must be one of/);
  });

  it('masks secrets when printed', () => {
    const masked = maskSecrets(loadConfig({ env: {} })) as { http: { adminToken: string; tokenSecret: string } };
    expect(masked.http.adminToken).toBe('***');
    expect(masked.http.tokenSecret).toBe('***');
  });
});
