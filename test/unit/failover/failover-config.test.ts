// Per-cluster failover settings: one cluster may follow its own Patroni while the others are promoted by us.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/index.ts';
import { clusterFailover } from '../../../features/failover/cluster-mode.ts';

const node = (name: string, port: number) => ({ name, host: '127.0.0.1', port });
const cluster = (name: string, failover?: Record<string, unknown>) => ({ name, nodes: [node(`${name}-n0`, 1), node(`${name}-n1`, 2)], database: 'd', user: 'u', ...(failover ? { failover } : {}) });

function problems(overrides: Record<string, unknown>): string[] {
  try {
    loadConfig({ env: {}, overrides });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('per-cluster failover config', () => {
  it('a Patroni cluster beside builtin ones: each resolves to its own mode and URLs', () => {
    const cfg = loadConfig({ env: {}, overrides: { postgres: { clusters: [cluster('pg0'), cluster('pgp', { mode: 'patroni', patroniUrls: ['http://127.0.0.1:8008'] })] } } });
    expect(clusterFailover(cfg, 'pg0')).toEqual({ mode: 'builtin', patroniUrls: [] });
    expect(clusterFailover(cfg, 'pgp')).toEqual({ mode: 'patroni', patroniUrls: ['http://127.0.0.1:8008'] });
  });

  it('a cluster in patroni mode without URLs is reported with its path', () => {
    expect(problems({ postgres: { clusters: [cluster('pg0'), cluster('pgp', { mode: 'patroni' })] } })).toContain(
      'postgres.clusters.1.failover.patroniUrls: required for a cluster whose failover mode is "patroni" (or set failover.patroniUrls)',
    );
    expect(problems({ failover: { mode: 'patroni' }, postgres: { clusters: [cluster('pg0')] } })).toContain('failover.patroniUrls: required when failover.mode is "patroni"');
  });

  it('two clusters cannot follow the same Patroni URLs', () => {
    const p = problems({ failover: { mode: 'patroni', patroniUrls: ['http://127.0.0.1:8008'] }, postgres: { clusters: [cluster('pg0'), cluster('pg1')] } });
    expect(p.join('\n')).toMatch(/2 clusters would follow the same Patroni cluster/);
    expect(problems({ failover: { mode: 'patroni', patroniUrls: ['http://a:1'] }, postgres: { clusters: [cluster('pg0'), cluster('pg1', { patroniUrls: ['http://b:1'] })] } })).toEqual([]);
  });
});
