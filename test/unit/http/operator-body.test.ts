// Operator routes refuse a body they do not understand: an unknown field (a typo such as `dryrun`) is a 400 that
// names it, instead of running the action with the option silently dropped.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../lib/metrics.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { bodyFields } from '../../../web/http/body.ts';
import { createHttpServer } from '../../../web/http/server.ts';

function server() {
  const app = createHttpServer({ metrics: createMetrics(), health: { notReadyReasons: () => [], status: () => ({}) }, logger: silentLogger() });
  app.post('/dlq/replay', async (req) => ({ ran: bodyFields(req, ['since', 'limit', 'dryRun']) }));
  return app;
}

describe('operator route bodies', () => {
  it('known fields pass through; no body is an empty one', async () => {
    const app = server();
    expect((await app.inject({ method: 'POST', url: '/dlq/replay', payload: { dryRun: true, limit: 5 } })).json()).toEqual({ ran: { dryRun: true, limit: 5 } });
    expect((await app.inject({ method: 'POST', url: '/dlq/replay' })).json()).toEqual({ ran: {} });
  });

  it('an unknown field is a 400 naming it and the known ones; nothing runs', async () => {
    const r = await server().inject({ method: 'POST', url: '/dlq/replay', payload: { dryrun: true } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: { code: 'TS_ERR_BAD_REQUEST', message: 'body.dryrun: unknown field (known: since, limit, dryRun)', field: 'body.dryrun' } });
  });

  it('a body that is not a JSON object is a 400', async () => {
    const r = await server().inject({ method: 'POST', url: '/dlq/replay', payload: [1, 2] });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'TS_ERR_BAD_REQUEST', field: 'body' });
  });
});
