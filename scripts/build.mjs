// `npm run build`: compiles the daemon and CLI with tsc (tsconfig.build.json) into dist/, then copies the
// files the compiled code reads at run time (dashboard assets, the Kafka fetch POM). Starts from an empty dist/.
import { cpSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const out = path.resolve(root, process.argv[2] ?? 'dist');
rmSync(out, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
for (const asset of ['web/dashboard', 'services/kafka/pom.xml']) cpSync(path.join(root, asset), path.join(out, asset), { recursive: true });
console.log(`built ${path.relative(root, out) || '.'}`);
