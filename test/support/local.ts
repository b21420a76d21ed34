// The local-profile config that integration and chaos tests use to reach the real services.
import { loadConfig, type Config } from '../../config/index.ts';

export function localConfig(overrides: Record<string, unknown> = {}): Readonly<Config> {
  return loadConfig({ overrides: { profile: 'local', log: { level: 'warn' }, ...overrides } });
}

/** A name unique to this test run (topics, indexes, groups, schemas). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}
