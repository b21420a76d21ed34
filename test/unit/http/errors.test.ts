// HTTP errors say what happened: each framework refusal has its own code, "not possible now" is 409/503 with
// Retry-After, an unexpected exception is a 500 whose error id is also in the log line.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, TagstreamError } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/logger.ts';
import { createMetrics } from '../../../lib/metrics.ts';
import { createHttpServer } from '../../../web/http/server.ts';

function server(bodyLimit = 1024) {
  const lines: string[] = [];
  const destination = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) });
  const app = createHttpServer({ metrics: createMetrics(), health: { notReadyReasons: () => [], status: () => ({}) }, bodyLimit, logger: createLogger({ destination, format: 'json' }) });
  app.post('/echo', async (req) => ({ got: req.body }));
  app.get('/things/:id', async () => ({ ok: true }));
  app.delete('/things/:id', async () => ({ ok: true }));
  app.get('/boom', async () => {
    throw new Error('kaboom: an unexpected bug');
  });
  app.get('/busy', async () => {
    throw new TagstreamError(ErrorCodes.ACTION_UNAVAILABLE, 'pg0 is failing over: a switchover needs a healthy cluster');
  });
  app.get('/draining', async () => {
    throw Object.assign(new Error('usage store closed'), { code: ErrorCodes.SHUTTING_DOWN });
  });
  app.get('/unsupported', async () => {
    throw new TagstreamError(ErrorCodes.NOT_SUPPORTED, 'failover is off for pg0');
  });
  app.get('/flaky', async () => {
    throw new TagstreamError('TS_ERR_SOMETHING_NEW' as never, 'a code without a status entry', { retriable: true });
  });
  return { app, lines };
}

describe('HTTP errors', () => {
  it('unknown route: 404 TS_ERR_NOT_FOUND', async () => {
    const r = await server().app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ error: { code: 'TS_ERR_NOT_FOUND', message: 'no route GET /nope' } });
  });

  it('known route, wrong method: 405 TS_ERR_METHOD_NOT_ALLOWED with Allow', async () => {
    const r = await server().app.inject({ method: 'PUT', url: '/things/42' });
    expect(r.statusCode).toBe(405);
    expect(r.headers.allow).toBe('DELETE, GET, HEAD');
    expect(r.json()).toMatchObject({ error: { code: 'TS_ERR_METHOD_NOT_ALLOWED' } });
    const h = await server().app.inject({ method: 'GET', url: '/echo' });
    expect(h.statusCode).toBe(405);
    expect(h.headers.allow).toBe('POST');
  });

  it('body over the limit: 413 TS_ERR_PAYLOAD_TOO_LARGE', async () => {
    const r = await server(64).app.inject({ method: 'POST', url: '/echo', payload: JSON.stringify({ x: 'y'.repeat(200) }), headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ error: { code: 'TS_ERR_PAYLOAD_TOO_LARGE' } });
  });

  it('a content type nobody parses: 415 TS_ERR_UNSUPPORTED_MEDIA_TYPE', async () => {
    const r = await server().app.inject({ method: 'POST', url: '/echo', payload: '<x/>', headers: { 'content-type': 'application/xml' } });
    expect(r.statusCode).toBe(415);
    expect(r.json()).toMatchObject({ error: { code: 'TS_ERR_UNSUPPORTED_MEDIA_TYPE' } });
  });

  it('malformed JSON: 400 TS_ERR_BAD_REQUEST', async () => {
    const r = await server().app.inject({ method: 'POST', url: '/echo', payload: '{"a":', headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: 'TS_ERR_BAD_REQUEST' } });
  });

  it('not possible right now: 409 with Retry-After', async () => {
    const r = await server().app.inject({ method: 'GET', url: '/busy' });
    expect(r.statusCode).toBe(409);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.json()).toEqual({ error: { code: 'TS_ERR_ACTION_UNAVAILABLE', message: 'pg0 is failing over: a switchover needs a healthy cluster' } });
  });

  it('our code on a plain Error counts (matched by code): draining is 503 with Retry-After', async () => {
    const r = await server().app.inject({ method: 'GET', url: '/draining' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json()).toMatchObject({ error: { code: 'TS_ERR_SHUTTING_DOWN' } });
  });

  it('a retriable error of a code without a status: 503 with Retry-After', async () => {
    const r = await server().app.inject({ method: 'GET', url: '/flaky' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
  });

  it('an unexpected exception: 500 TS_ERR_INTERNAL with an error id that is also in the log line, no Retry-After', async () => {
    const { app, lines } = server();
    const r = await app.inject({ method: 'GET', url: '/boom' });
    expect(r.statusCode).toBe(500);
    expect(r.headers['retry-after']).toBeUndefined();
    const body = r.json() as { error: { code: string; message: string; errorId: string } };
    expect(body.error.code).toBe('TS_ERR_INTERNAL');
    expect(body.error.errorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.error.message).toContain(body.error.errorId);
    expect(body.error.message).not.toContain('kaboom'); // internals stay in the log
    const logged = lines.map((l) => JSON.parse(l) as { errorId?: string; route?: string; err?: { message: string } }).find((l) => l.errorId === body.error.errorId);
    expect(logged).toMatchObject({ route: '/boom', err: { message: 'kaboom: an unexpected bug' } });
  });

  it('an action this deployment does not offer: 501 TS_ERR_NOT_SUPPORTED, no Retry-After (retrying changes nothing)', async () => {
    const r = await server().app.inject({ method: 'GET', url: '/unsupported' });
    expect(r.statusCode).toBe(501);
    expect(r.headers['retry-after']).toBeUndefined();
    expect(r.json()).toEqual({ error: { code: 'TS_ERR_NOT_SUPPORTED', message: 'failover is off for pg0' } });
  });
});
