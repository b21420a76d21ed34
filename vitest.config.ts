// Test projects. unit: no sockets, simulated time, embedded stand-ins — includes the contract suites run
// against the stand-ins. integration and chaos: real PostgreSQL (primary + async replicas), Redis, Kafka and
// Elasticsearch started by services/ (globalSetup makes sure they are up; nothing is skipped).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts'], testTimeout: 30_000, setupFiles: ['test/support/no-sockets.ts'] } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 300_000, globalSetup: ['test/support/global-services.ts'] } },
      // The production build (tsc → JavaScript) starts on node alone and answers /healthz: no real services.
      { test: { name: 'build', include: ['test/build/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 300_000 } },
      { test: { name: 'chaos', include: ['test/chaos/**/*.test.ts'], testTimeout: 900_000, hookTimeout: 300_000, globalSetup: ['test/support/global-services.ts'] } },
    ],
  },
});
