// /openapi.json covers the whole HTTP API: the daemon with every feature attached (embedded profile) must not
// register a route the document does not describe, nor describe one it does not register.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../config/index.ts';
import { startDaemon, type Daemon } from '../../../daemon.ts';
import { silentLogger } from '../../../lib/logger.ts';

const config = loadConfig({ env: {}, overrides: { http: { port: 0 }, shards: { count: 4 }, kafka: { partitions: 2 } } });
let d: Daemon;

beforeAll(async () => {
  d = await startDaemon(config, { listen: false, logger: silentLogger() }); // the default features, as `npm start` runs them
}, 90_000);
afterAll(async () => d?.stop());

/** Every (method, path) fastify routes, from printRoutes' tree (HEAD, which fastify adds to each GET, left out). */
function registeredRoutes(app: FastifyInstance): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([^)]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const full = (depth > 0 ? stack[depth - 1]! : '') + m[2]!;
    stack[depth] = full;
    stack.length = depth + 1;
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') out.push(`${method} ${full}`);
  }
  return out.sort();
}

describe('OpenAPI document', () => {
  it('describes exactly the routes the daemon registers', async () => {
    const r = await d.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    const doc = r.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths)
      .flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    const registered = registeredRoutes(d.app);
    expect(registered.length).toBeGreaterThan(10);
    expect(registered.filter((x) => !documented.includes(x)), 'registered but not in web/http/openapi*.ts').toEqual([]);
    expect(documented.filter((x) => !registered.includes(x)), 'documented but not registered').toEqual([]);
  });

  it('resolves every $ref and gives every operation an id and responses', async () => {
    const r = await d.app.inject({ method: 'GET', url: '/openapi.json' });
    const doc = r.json<{ paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } }>();
    for (const m of r.body.matchAll(/"#\/components\/schemas\/(\w+)"/g)) expect(doc.components.schemas, m[1]).toHaveProperty(m[1]!);
    const ids = new Set<string>();
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(op.operationId, `${method} ${p}`).toBeTruthy();
        expect(ids.has(op.operationId!), `duplicate operationId ${op.operationId}`).toBe(false);
        ids.add(op.operationId!);
        expect(Object.keys(op.responses ?? {}).length, `${method} ${p}`).toBeGreaterThan(0);
      }
    }
  });
});
