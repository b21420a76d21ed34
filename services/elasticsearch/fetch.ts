// The Elasticsearch distribution: Maven Central's integ-test-zip (no bundled JDK), downloaded once into the
// cache directory, checked against its published SHA-1, unpacked next to it. Markers make a half-finished
// download or unpack redo itself instead of being trusted.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { EsSpec } from '../layout.ts';
import { run, serviceError } from '../proc.ts';

const CENTRAL = 'https://repo1.maven.org/maven2';

function zipUrl(version: string): string {
  return `${CENTRAL}/org/elasticsearch/distribution/integ-test-zip/elasticsearch/${version}/elasticsearch-${version}.zip`;
}

async function sha1(file: string): Promise<string> {
  const hash = createHash('sha1');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

async function download(url: string, file: string): Promise<void> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw serviceError(`GET ${url}: HTTP ${res.status}`);
  const part = `${file}.part`;
  await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(part));
  const expected = (await (await fetch(`${url}.sha1`)).text()).trim().split(/\s+/)[0];
  const actual = await sha1(part);
  if (expected && expected !== actual) {
    rmSync(part, { force: true });
    throw serviceError(`${url}: SHA-1 ${actual} does not match the published ${expected}`);
  }
  renameSync(part, file);
}

/** Ensures spec.homeDir holds the unpacked distribution; returns what it had to do. */
export async function fetchElasticsearch(spec: EsSpec, log: (line: string) => void): Promise<'cached' | 'unpacked' | 'downloaded'> {
  const marker = path.join(spec.homeDir, '.complete');
  if (existsSync(marker)) return 'cached';
  let did: 'unpacked' | 'downloaded' = 'unpacked';
  mkdirSync(path.dirname(spec.zipFile), { recursive: true });
  if (!existsSync(spec.zipFile)) {
    log(`elasticsearch: downloading ${zipUrl(spec.version)}`);
    await download(zipUrl(spec.version), spec.zipFile);
    did = 'downloaded';
  }
  const tmp = `${spec.homeDir}.unpack`;
  rmSync(tmp, { recursive: true, force: true });
  rmSync(spec.homeDir, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await run('unzip', ['-q', spec.zipFile, '-d', tmp], { timeoutMs: 300_000 });
  renameSync(path.join(tmp, `elasticsearch-${spec.version}`), spec.homeDir);
  rmSync(tmp, { recursive: true, force: true });
  writeFileSync(marker, `${spec.version}\n`);
  return did;
}
