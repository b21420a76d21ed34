// Which JDK runs Kafka and Elasticsearch: config.services.javaHome, else the default `java` on PATH
// (Debian's JDK 17 here; Kafka 3.9 and Elasticsearch 8.x both run on it).
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { run, serviceError } from './proc.ts';

export async function resolveJavaHome(configured: string | undefined): Promise<string> {
  if (configured) return configured;
  const which = await run('sh', ['-c', 'command -v java'], { check: false });
  const bin = which.stdout.trim();
  if (which.code !== 0 || !bin) throw serviceError('no java on PATH: install openjdk-17-jdk-headless or set TAGSTREAM_SERVICES__JAVA_HOME');
  // /usr/bin/java → /etc/alternatives/java → /usr/lib/jvm/<jdk>/bin/java
  return path.dirname(path.dirname(realpathSync(bin)));
}

export function javaBin(home: string): string {
  return path.join(home, 'bin', 'java');
}
