// Errors as the shard store raises them (PGlite behind the same boundary as pg): a revoked privilege is fatal —
// the writer stops and someone is alerted — not poison: nothing is bisected into the DLQ. An error the adapter
// does not know (a bug of ours) is fatal too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyWithRetry } from '../../../../actors/shard-writer/apply.ts';
import { EmbeddedPgCluster } from '../../../../adapters/pg/embedded-pg-cluster.ts';
import { PgliteShardStore } from '../../../../adapters/pg/pglite-shard-store.ts';
import type { AssocWrite } from '../../../../adapters/pg/port.ts';
import { classify } from '../../../../lib/classify.ts';
import { SimulatedClock } from '../../../../lib/clock.ts';
import { silentLogger } from '../../../../lib/logger.ts';

const nodes = ['p-n0', 'p-n1'];
let embedded: EmbeddedPgCluster;
let store: PgliteShardStore;

const w = (entity: string, off: number): AssocWrite => ({ shard: 3, entity, tag: 'T', attached: true, partition: 0, offset: String(off), at: 0 });

beforeAll(async () => {
  embedded = await EmbeddedPgCluster.create('p', nodes);
  store = new PgliteShardStore({ embedded, logger: silentLogger() });
  await store.migrate();
  // PGlite has one backend: a role set on any session holds for every session until reset.
  await embedded.connect(nodes[0]!).session(async (q) => {
    await q.query('CREATE ROLE tagstream_revoked NOLOGIN');
  });
}, 60_000);
afterAll(async () => {
  await store.close();
  await embedded.close();
});

async function asRevokedRole<T>(fn: () => Promise<T>): Promise<T> {
  const conn = embedded.connect(nodes[0]!);
  await conn.session((q) => q.query('SET ROLE tagstream_revoked'));
  try {
    return await fn();
  } finally {
    await conn.session((q) => q.query('RESET ROLE'));
    await conn.close();
  }
}

describe('errors leave the shard store classified', () => {
  it('insufficient privilege (42501) is fatal, with the SQLSTATE kept as the code', async () => {
    const err = await asRevokedRole(() => store.applyBatch([w('a', 1)]).catch((e: unknown) => e));
    expect(err).toMatchObject({ name: 'BackendError', code: '42501' });
    expect(classify(err)).toEqual({ class: 'fatal', source: 'pg:42501' });
  });

  it('a writer meeting 42501 stops (the error is thrown) and dead-letters nothing', async () => {
    const writes = [w('a', 1), w('b', 2), w('c', 3), w('d', 4)];
    const outcome = await asRevokedRole(() =>
      applyWithRetry(writes, { store, clock: new SimulatedClock(0), logger: silentLogger(), backoff: { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 }, signal: new AbortController().signal }).then(
        (o) => ({ poisoned: o.poisoned.length, error: null as unknown }),
        (e: unknown) => ({ poisoned: 0, error: e }),
      ),
    );
    expect(outcome.poisoned).toBe(0);
    expect(outcome.error).toMatchObject({ code: '42501' });
    expect(await store.shardRows(3)).toEqual([]);
  });

  it('an error the adapter does not know is fatal', async () => {
    const err = await store.applyBatch([{ ...w('a', 1), offset: 'not-a-number' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(classify(err)).toEqual({ class: 'fatal', source: 'unknown:TypeError' });
  });

  it('below the boundary (a raw connection of the emulated cluster) an error is the driver’s own: unknown to lib', async () => {
    const err = await store
      .entityTags(3, 'a', { primary: true })
      .then(() => embedded.connect(nodes[0]!).session((q) => q.query("SELECT 'x'::int")))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '22P02' });
    expect(classify(err).class).toBe('fatal');
  });
});
