// The bad-input drill: random and hostile commands into the log and random HTTP requests at the API. Nothing
// crashes; every bad command lands in the DLQ with a reason; every bad request gets a 4xx that says what is wrong.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MemoryCommandLog } from '../../../adapters/kafka/memory-command-log.ts';
import { loadConfig } from '../../../config/index.ts';
import { startDaemon, type Daemon } from '../../../daemon.ts';
import { validateCommand } from '../../../lib/command.ts';
import { silentLogger } from '../../../lib/logger.ts';

const config = loadConfig({ env: {}, overrides: { http: { port: 0 }, shards: { count: 4 }, kafka: { partitions: 2 }, writer: { batchWindowMs: 2 } } });
let d: Daemon;

beforeAll(async () => {
  d = await startDaemon(config, { listen: false, logger: silentLogger(), features: [] });
}, 60_000);
afterAll(async () => d?.stop());

const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.constantFrom('', ' ', '\u0000', '../../etc/passwd', "'; DROP TABLE tag_assoc; --", '<script>alert(1)</script>', 'a|b', '%00', '\uD800', 'x'.repeat(5_000), '{}', 'null', '🏷️'),
);

const commandLike = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 200 }), fc.integer(), fc.constant(null)),
    op: fc.oneof(fc.constantFrom('attach', 'detach', 'ATTACH', 'delete', ''), hostileString),
    entity: fc.oneof(fc.constantFrom('bug-1', 'bug-2'), hostileString),
    tag: fc.oneof(fc.constantFrom('Critical', 'ui'), hostileString),
    actor: fc.oneof(fc.constant('fuzz'), hostileString, fc.integer()),
    at: fc.oneof(fc.integer(), fc.constant('2026-01-01T00:00:00Z'), hostileString, fc.double()),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

const rawValue = fc.oneof(
  commandLike.map((c) => JSON.stringify(c)),
  hostileString,
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
);

describe('bad input drill', () => {
  it('hostile commands never crash the pipeline and every invalid one is dead-lettered with a reason', async () => {
    const log = d.log as MemoryCommandLog;
    const samples = fc.sample(fc.tuple(fc.oneof(hostileString, fc.constant('bug-1')), rawValue), { numRuns: 400, seed: 42 });
    let invalid = 0;
    for (const [key, value] of samples) if (!validateCommand(value, config.commands, key).ok) invalid++;
    const dlqBefore = (await log.endOffsets(config.kafka.dlqTopic)).get(0) ?? '0';
    await log.produce(config.kafka.topic, samples.map(([key, value]) => ({ key, value })));
    expect(invalid).toBeGreaterThan(300);
    await vi.waitFor(async () => expect(Number((await log.endOffsets(config.kafka.dlqTopic)).get(0)) - Number(dlqBefore)).toBe(invalid), { timeout: 30_000, interval: 50 });
    const records = await log.read(config.kafka.dlqTopic, 0, dlqBefore, invalid);
    for (const r of records) {
      expect(r.headers['x-error-code']).toMatch(/^TS_ERR_COMMAND_/);
      expect(r.headers['x-error-message']!.length).toBeGreaterThan(0);
      expect(r.headers['x-source-offset']).toMatch(/^\d+$/);
    }
    // The daemon is still healthy and applying.
    const res = await d.app.inject({ method: 'POST', url: '/v1/entities/bug-ok/tags/fine?wait=applied' });
    expect(res.statusCode).toBe(200);
    expect(d.tree.system.tree().filter((a) => a.status === 'stopped')).toEqual([]);
  }, 60_000);

  it('random HTTP requests get a 2xx or a 4xx with an error body, never a 5xx', async () => {
    const method = fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH');
    const enc = (s: string) => {
      try {
        return encodeURIComponent(s);
      } catch {
        return '%ED%A0%80'; // a lone surrogate, as a client would send it
      }
    };
    const segment = fc.oneof(hostileString.map((s) => enc(s).slice(0, 300)), fc.constantFrom('%', '%E0%A4%A', '%zz', '%00', '..%2F..%2F'));
    const path = fc.oneof(
      fc.tuple(segment, segment).map(([e, t]) => `/v1/entities/${e}/tags/${t}`),
      fc.tuple(segment, segment, hostileString).map(([e, t, q]) => `/v1/entities/${e}/tags/${t}?wait=${enc(q)}&timeoutMs=${enc(q)}`),
      segment.map((s) => `/${s}`),
      fc.constantFrom('/v1/entities//tags/', '/v1/entities/a/tags/b?wait=applied&timeoutMs=0', '/v1/entities/a/tags/b?timeoutMs=99999999'),
    );
    const body = fc.oneof(fc.constant(undefined), hostileString, fc.jsonValue().map((v) => JSON.stringify(v)));
    await fc.assert(
      fc.asyncProperty(method, path, body, async (m, url, payload) => {
        const res = await d.app.inject({ method: m as 'GET', url, ...(payload !== undefined && m !== 'GET' ? { payload, headers: { 'content-type': 'application/json' } } : {}) });
        expect(res.statusCode, `${m} ${url} → ${res.statusCode} ${res.body.slice(0, 200)}`).toBeLessThan(500);
        if (res.statusCode >= 400) {
          const b = res.json() as { error?: { code?: string; message?: string } };
          expect(b.error?.code).toMatch(/^TS_ERR_/);
          expect(b.error?.message?.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  }, 60_000);
});
