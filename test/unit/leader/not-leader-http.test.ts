// A follower's refusal of a leader-only action (HTTP 409 TS_ERR_NOT_LEADER) names the leader in the body as data:
// its daemon id, its HTTP URL and its term, so a client or the CLI can send the request there.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { notLeader } from '../../../actors/leader/leader.ts';
import { installErrorHandling } from '../../../web/http/errors.ts';

describe('TS_ERR_NOT_LEADER over HTTP', () => {
  it('answers 409 with Retry-After and the leader (daemon id, URL, term) in the body', async () => {
    const app = Fastify();
    installErrorHandling(app);
    app.post('/replay', async () => {
      throw notLeader({ term: 3, daemonId: 'host-a-12-abc', url: 'http://10.0.0.5:8080', at: 1 }, 'DLQ pass');
    });
    app.post('/nobody', async () => {
      throw notLeader(null, 'DLQ pass');
    });
    const r = await app.inject({ method: 'POST', url: '/replay' });
    expect(r.statusCode).toBe(409);
    expect(r.headers['retry-after']).toBe('1');
    const body = r.json() as { error: { code: string; message: string; leader: unknown } };
    expect(body.error).toMatchObject({ code: 'TS_ERR_NOT_LEADER', leader: { daemonId: 'host-a-12-abc', url: 'http://10.0.0.5:8080', term: 3 } });
    expect(body.error.message).toContain('the leader is host-a-12-abc at http://10.0.0.5:8080 (term 3)');
    const none = await app.inject({ method: 'POST', url: '/nobody' });
    expect(none.statusCode).toBe(409);
    expect(none.json()).toMatchObject({ error: { code: 'TS_ERR_NOT_LEADER', leader: null, message: expect.stringContaining('no leader is known yet') } });
    await app.close();
  });
});
