// `npm run bench [-- name…]`: runs the named benchmarks (default: all) one after another. Each prints its
// figures and ratios against the physical limit measured in the same run; see BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const dir = import.meta.dirname;
const helpers = new Set(['run', 'open-loop', 'raw-http', 'proc-cpu', 'daemon-env']);
/** Run only when named: `npm run bench` alone must not take an hour (`npm run bench -- soak`). */
const namedOnly = new Set(['soak']);
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !helpers.has(f.replace(/\.ts$/, '')) && !f.startsWith('_'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
/** Names the issues use that differ from the file's (`npm run bench -- index` runs bench/indexing.ts). */
const aliases: Record<string, string> = { index: 'indexing' };
// Names come first; everything from the first flag on goes to each benchmark (`npm run bench -- ingest --events 3000000`).
const args = process.argv.slice(2);
const firstFlag = args.findIndex((a) => a.startsWith('-'));
const names = firstFlag < 0 ? args : args.slice(0, firstFlag);
const passed = firstFlag < 0 ? [] : args.slice(firstFlag);
const wanted = names.map((w) => aliases[w] ?? w);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${all.join(', ')}\n`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : all.filter((n) => !namedOnly.has(n))) {
  process.stdout.write(`\n=== bench ${name} ===\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, `${name}.ts`), ...passed], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
