// The write routes validate against their schema: a field of the wrong type or an unknown field is a 400
// naming the field — never coerced, never silently replaced (it used to be stored as actor "http").
import { describe, expect, it } from 'vitest';
import { AppliedBus } from '../../../actors/applied-bus.ts';
import type { CommandLog } from '../../../adapters/kafka/port.ts';
import { systemClock } from '../../../lib/clock.ts';
import { defaultLimits } from '../../../lib/command.ts';
import { createMetrics } from '../../../lib/metrics.ts';
import { createHttpServer } from '../../../web/http/server.ts';
import { registerWriteRoutes } from '../../../web/http/write-routes.ts';

function server(opts: { draining?: boolean } = {}) {
  const produced: { key: string; value: string }[] = [];
  const log = { produce: async (_topic: string, msgs: { key: string; value: string }[]) => msgs.map((m) => (produced.push(m), { partition: 0, offset: String(produced.length - 1) })) } as unknown as CommandLog;
  const app = createHttpServer({ metrics: createMetrics(), health: { notReadyReasons: () => [], status: () => ({}) } });
  registerWriteRoutes(app, { log, topic: 't', limits: defaultLimits, applied: new AppliedBus(systemClock), tokenSecret: 'x'.repeat(16), clock: systemClock, isDraining: () => opts.draining ?? false });
  return { app, produced };
}

const post = (app: ReturnType<typeof server>['app'], body: unknown, query = '') =>
  app.inject({ method: 'POST', url: `/v1/entities/bug-1/tags/critical${query}`, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

describe('write routes: schema validation', () => {
  it('a non-string actor is a 400 naming body.actor, and nothing is produced', async () => {
    const { app, produced } = server();
    const r = await post(app, { actor: { $gt: 1 } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: { code: 'TS_ERR_BAD_REQUEST', message: 'body.actor: must be string', field: 'body.actor' } });
    expect(produced).toEqual([]);
  });

  it('a number is not coerced to a string', async () => {
    const r = await post(server().app, { actor: 12 });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { field: 'body.actor' } });
  });

  it('an unknown field is a 400 naming it', async () => {
    const r = await post(server().app, { actor: 'alice', atcor: 'x' });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: { code: 'TS_ERR_BAD_REQUEST', message: 'body.atcor: unknown field', field: 'body.atcor' } });
  });

  it('a body that is not an object, and an unknown or repeated query parameter, are 400s naming them', async () => {
    expect((await post(server().app, ['alice'])).json()).toMatchObject({ error: { field: 'body' } });
    expect((await post(server().app, {}, '?wiat=applied')).json()).toMatchObject({ error: { code: 'TS_ERR_BAD_REQUEST', field: 'querystring.wiat' } });
    expect((await post(server().app, {}, '?wait=soon')).json()).toMatchObject({ error: { field: 'querystring.wait' } });
    expect((await post(server().app, {}, '?wait=none&wait=applied')).json()).toMatchObject({ error: { field: 'querystring.wait' } });
    expect((await post(server().app, {}, '?timeoutMs=0')).json()).toMatchObject({ error: { field: 'querystring.timeoutMs' } });
  });

  it('a valid actor is recorded; no body, or an empty one, records the x-actor header or "http"', async () => {
    const { app, produced } = server();
    expect((await post(app, { actor: 'alice' })).statusCode).toBe(202);
    expect((await app.inject({ method: 'POST', url: '/v1/entities/bug-1/tags/critical', headers: { 'x-actor': 'bob' } })).statusCode).toBe(202);
    expect((await app.inject({ method: 'DELETE', url: '/v1/entities/bug-1/tags/critical' })).statusCode).toBe(202);
    expect((await post(app, {})).statusCode).toBe(202);
    expect(produced.map((m) => (JSON.parse(m.value) as { actor: string }).actor)).toEqual(['alice', 'bob', 'http', 'http']);
  });

  it('while draining: 503 TS_ERR_SHUTTING_DOWN with Retry-After', async () => {
    const r = await post(server({ draining: true }).app, {});
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json()).toMatchObject({ error: { code: 'TS_ERR_SHUTTING_DOWN' } });
  });
});
