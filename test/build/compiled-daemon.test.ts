// The production build: `npm run build` compiles the daemon to plain JavaScript that runs on node alone (no
// tsx, no TypeScript, no dev dependency), starts in the embedded profile, answers /healthz and drains on SIGTERM.
// This is what the image runs (`node dist/main.js`); there is no Docker engine here, so the build output is tested.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
// Inside the checkout so that the compiled files resolve node_modules and package.json as dist/ does.
const scratch = path.join(root, '.run');
let out: string;

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(path.join(dir, n)).isDirectory() ? jsFiles(path.join(dir, n)) : n.endsWith('.js') ? [path.join(dir, n)] : []));
}

/** Every stdout line of `child`, and a wait for the first line matching a pattern (rejects if it exits first). */
function stdoutLines(child: ChildProcess) {
  const lines: string[] = [];
  let buf = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
    for (const l of listeners) l();
  });
  const waitFor = (re: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        for (const l of lines) {
          const m = re.exec(l);
          if (m) return (listeners.delete(check), resolve(m));
        }
      };
      listeners.add(check);
      child.once('exit', (code) => reject(new Error(`exited with ${code} before printing ${re}:\n${lines.join('\n')}`)));
      check();
    });
  return { lines, waitFor };
}

describe('compiled output (npm run build)', () => {
  beforeAll(() => {
    mkdirSync(scratch, { recursive: true });
    out = mkdtempSync(path.join(scratch, 'dist-test-'));
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), out], { cwd: root, encoding: 'utf8' });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  });
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('has main.js and cli.js, and no relative import still names a .ts file', () => {
    const files = jsFiles(out);
    expect(files).toContain(path.join(out, 'main.js'));
    expect(files).toContain(path.join(out, 'cli.js'));
    const tsImports = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/(?:from|import\()\s*["'](\.{1,2}\/[^"']+\.ts)["']/g)].map((m) => `${path.relative(out, f)}: ${m[1]}`));
    expect(tsImports).toEqual([]);
  });

  it('imports only node built-ins and runtime dependencies (npm ci --omit=dev is enough)', () => {
    const bare = new Set(
      // Static imports and re-exports start a line in tsc's output; dynamic ones are import("…") anywhere.
      jsFiles(out).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*["']([^"'.][^"']*)["'];|^import\s*["']([^"'.][^"']*)["'];|\bimport\(\s*["']([^"'.][^"']*)["']\s*\)/gm)].map((m) => (m[1] ?? m[2] ?? m[3])!)),
    );
    expect([...bare]).toEqual(expect.arrayContaining(['fastify', 'pino', 'kafkajs', 'node:crypto'])); // the scan sees imports at all
    const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    const builtins = new Set(builtinModules);
    const outside = [...bare].filter((s) => !s.startsWith('node:') && !builtins.has(s)).map(packageOf).filter((p) => !(p in pkg.dependencies));
    expect(outside, 'packages the compiled code imports that are not in "dependencies"').toEqual([]);
    expect(bare.has('tsx') || 'tsx' in pkg.dependencies).toBe(false);
  });

  it('`node cli.js --help` lists the commands', () => {
    const r = spawnSync(process.execPath, [path.join(out, 'cli.js'), '--help'], { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/config\s+check the configuration/);
  });

  it('`node main.js` starts in the embedded profile, answers /healthz, logs JSON when not on a terminal, and drains on SIGTERM', async () => {
    const flight = mkdtempSync(path.join(scratch, 'flight-'));
    // Only what the daemon needs: no TAGSTREAM_* of the caller's shell, no NODE_OPTIONS (tsx must not be loaded).
    const child = spawn(process.execPath, [path.join(out, 'main.js')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', TAGSTREAM_PROFILE: 'embedded', TAGSTREAM_HTTP__PORT: '0', TAGSTREAM_FLIGHT_RECORDER__DIR: flight },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderr: string[] = [];
    child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
    const stdout = stdoutLines(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const [banner, url] = await stdout.waitFor(/^.*listening on (http:\/\/127\.0\.0\.1:\d+).*$/);
      expect(JSON.parse(banner!)).toMatchObject({ level: 30, url }); // JSON logs: the start banner is a JSON line too
      const res = await fetch(`${url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'alive' });
      const missing = await fetch(`${url}/no-such-route`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('TS_ERR_NOT_FOUND');
      const [started] = await stdout.waitFor(/^\{.*"msg":"tagstream started".*\}$/);
      expect(JSON.parse(started)).toMatchObject({ profile: 'embedded', level: 30 });
      child.kill('SIGTERM');
      expect(await exited, stderr.join('')).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(flight, { recursive: true, force: true });
    }
  });
});
