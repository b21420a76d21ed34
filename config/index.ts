export { loadConfig, ConfigError, maskSecrets } from './load.ts';
export type { Config, PgClusterConfig, BreakerConfig, RetryConfig, RetryLoopsConfig } from './schema.ts';
export * from './local-layout.ts';
