// HTTP surface of the dashboard. Public (read-only, like /status): the page and its assets, its snapshot, the
// live stream, the flight recorder download. Operator actions under /admin/*, each behind the admin token.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import { checkAdminToken } from './auth.ts';
import { bodyFields } from '../../web/http/body.ts';
import { badRequest } from '../../web/http/errors.ts';
import type { FlightRecorder } from './flight-recorder.ts';
import type { LiveHub } from './live-hub.ts';
import type { Operator } from './operator.ts';

const ASSET_DIR = path.resolve(import.meta.dirname, '../../web/dashboard');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json' };

/** The page's files, read once: a fixed set, so no request path ever reaches the file system. */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(ASSET_DIR)) {
    const type = TYPES[path.extname(name)];
    if (type) out.set(name, { body: readFileSync(path.join(ASSET_DIR, name)), type });
  }
  return out;
}

export interface RouteDeps {
  adminToken: string;
  hub: LiveHub;
  operator: Operator;
  recorder: FlightRecorder;
  snapshot: () => unknown;
}

export function registerDashboardRoutes(app: FastifyInstance, d: RouteDeps): void {
  const assets = loadAssets();
  const serve = (name: string, reply: FastifyReply) => {
    const a = assets.get(name);
    if (!a) throw new TagstreamError(ErrorCodes.NOT_FOUND, `no dashboard asset ${name}`);
    return reply.header('content-type', a.type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(a.body);
  };
  app.get('/', async (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard', async (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard/', async (_req, reply) => serve('index.html', reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")));
  app.get<{ Params: { file: string } }>('/dashboard/:file', async (req, reply) => serve(req.params.file, reply));
  app.get('/dashboard/api/state', async () => d.snapshot());
  app.get('/dashboard/api/events', (req, reply) => {
    reply.hijack();
    d.hub.attach(reply.raw, d.snapshot());
  });
  app.get('/debug/flight-recorder', async (_req, reply) => {
    const rec = d.recorder.capture('downloaded on request');
    const stamp = new Date(rec.capturedAt).toISOString().replace(/[:.]/g, '-');
    return reply.header('content-disposition', `attachment; filename="tagstream-flight-${stamp}.json"`).header('cache-control', 'no-store').send(rec);
  });

  app.register(
    async (admin) => {
      admin.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        const refusal = checkAdminToken(req.headers.authorization, d.adminToken);
        if (!refusal) return;
        d.operator.refused(`${req.method} ${req.url.split('?')[0]}`, null, refusal.message);
        return reply.code(401).header('www-authenticate', 'Bearer realm="tagstream operator actions"').send({ error: { code: refusal.code, message: refusal.message } });
      });
      const str = (v: unknown, field: string) => {
        if (v === undefined) return undefined;
        if (typeof v !== 'string' || v === '') throw badRequest(`body.${field}: must be a non-empty string`, `body.${field}`);
        return v;
      };
      admin.get('/faults', async () => ({ faults: d.operator.faults() }));
      admin.post<{ Params: { name: string } }>('/faults/:name/inject', async (req) => ({ fault: await d.operator.injectFault(req.params.name) }));
      admin.post<{ Params: { name: string } }>('/faults/:name/heal', async (req) => ({ fault: await d.operator.healFault(req.params.name) }));
      admin.get('/breakers', async () => ({ breakers: d.operator.breakers() }));
      admin.post<{ Params: { name: string } }>('/breakers/:name/force', async (req) => d.operator.forceBreaker(req.params.name, str(bodyFields(req, ['state']).state, 'state') ?? ''));
      admin.post('/dlq/replay', async (req) => {
        const limit = bodyFields(req, ['limit']).limit;
        if (limit !== undefined && typeof limit !== 'number') throw badRequest('body.limit: must be a number', 'body.limit');
        return d.operator.replayDlq(limit);
      });
      admin.post<{ Params: { cluster: string } }>('/switchover/:cluster', async (req) => d.operator.switchover(req.params.cluster, str(bodyFields(req, ['target']).target, 'target')));
    },
    { prefix: '/admin' },
  );
}
