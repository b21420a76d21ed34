// The Kafka broker's jars, resolved by Maven from services/kafka/pom.xml into the cache directory (and
// ~/.m2). A marker file records a complete copy, so a half-finished download is redone, not trusted.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KafkaSpec } from '../layout.ts';
import { run } from '../proc.ts';

const POM = path.join(import.meta.dirname, 'pom.xml');

/** Ensures the broker's classpath directory is complete; returns true if it had to fetch it. */
export async function fetchKafkaLibs(spec: KafkaSpec, log: (line: string) => void): Promise<boolean> {
  const marker = path.join(spec.libDir, '.complete');
  if (existsSync(marker)) return false;
  log(`kafka: resolving kafka_2.13:${spec.version} and its runtime dependencies with Maven`);
  rmSync(spec.libDir, { recursive: true, force: true });
  await run('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', POM, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-Dkafka.version=${spec.version}`, `-DoutputDirectory=${spec.libDir}`], { timeoutMs: 600_000 });
  const jars = readdirSync(spec.libDir).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith(`kafka_2.13-${spec.version}`))) throw new Error(`kafka: ${spec.libDir} has no kafka_2.13-${spec.version}.jar after mvn`);
  writeFileSync(marker, jars.join('\n'));
  return true;
}
