#!/usr/bin/env node
// `tagstream`: in a checkout with dev dependencies, runs cli.ts through tsx (no build step); elsewhere (the
// image, `npm ci --omit=dev`) runs the compiled dist/cli.js on node alone.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const source = path.join(root, 'cli.ts');
const compiled = path.join(root, 'dist', 'cli.js');

if (existsSync(source) && existsSync(tsx)) {
  const r = spawnSync(tsx, [source, ...args], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
} else if (existsSync(compiled)) {
  const { runCli } = await import(pathToFileURL(compiled).href);
  process.exit(await runCli(args));
} else {
  process.stderr.write(`tagstream: neither ${source} with tsx nor ${compiled}: run npm ci, or npm run build\n`);
  process.exit(1);
}
