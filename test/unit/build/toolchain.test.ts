// One Node line everywhere: .node-version (what .ci/run installs), package.json engines and @types/node, and
// the Dockerfile's base image. The image runs the compiled output as PID 1, not through npx/tsx.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const read = (f: string) => readFileSync(path.join(root, f), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; dependencies: Record<string, string>; devDependencies: Record<string, string>; scripts: Record<string, string> };
const pinned = read('.node-version').trim();
const major = Number(pinned.split('.')[0]);

describe('toolchain', () => {
  it('pins a Node LTS line (even major, 24 or later) and engines/@types/node follow it', () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(major).toBeGreaterThanOrEqual(24);
    expect(major % 2).toBe(0);
    expect(pkg.engines.node).toBe(`>=${major}`);
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^\\^${major}\\.`));
  });

  it('the Dockerfile builds and runs on the same Node, multi-stage, production dependencies only, node as PID 1', () => {
    const docker = read('Dockerfile');
    expect(docker).toContain(`ARG NODE_VERSION=${pinned}`);
    expect(docker).toMatch(/FROM node:\$\{NODE_VERSION\}-\S+ AS build/);
    expect(docker).toMatch(/FROM node:\$\{NODE_VERSION\}-\S+ AS runtime/);
    const runtime = docker.slice(docker.indexOf('AS runtime'));
    expect(runtime).toContain('npm ci --omit=dev');
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\/healthz/ms);
    expect(runtime).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
    expect(runtime).not.toMatch(/npx|tsx/i);
  });

  it('tsx and TypeScript are build tools, not runtime dependencies', () => {
    for (const dev of ['tsx', 'typescript', 'vitest']) {
      expect(pkg.dependencies[dev], dev).toBeUndefined();
      expect(pkg.devDependencies[dev], dev).toBeDefined();
    }
    expect(pkg.scripts.build).toBeDefined();
  });
});
