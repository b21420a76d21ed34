// The SearchIndex contract: one suite, run against MemorySearchIndex (unit project) and ElasticSearchIndex
// (integration project). Each case gets a fresh, uniquely named index.
import { afterEach, describe, expect, it } from 'vitest';
import type { BulkItem, SearchIndex, TagDoc } from '../../adapters/search/port.ts';
import { classify } from '../../lib/classify.ts';

export interface SearchIndexHarness {
  index: SearchIndex;
  /** Resolves once `pred()` holds (the stand-in advances simulated time); fails with `what` after a bound. */
  eventually(pred: () => boolean | Promise<boolean>, what: string): Promise<void>;
  close(): Promise<void>;
}

export type MakeSearchIndex = (opts: { refreshIntervalMs: number }) => Promise<SearchIndexHarness>;

/** Long enough that no periodic refresh happens during a case. */
const NO_AUTO_REFRESH = 3_600_000;

function doc(entity: string, tag: string, attached = true, shard = 3): TagDoc {
  return { entity, tag, attached, shard, at: 1_700_000_000_000 };
}
function item(id: string, version: string | number, d: TagDoc): BulkItem {
  return { id, version: String(version), doc: d };
}
async function scanAll(index: SearchIndex): Promise<Array<{ id: string; version: string; doc: TagDoc }>> {
  const out = [];
  for await (const x of index.scan()) out.push(x);
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

export function searchIndexContract(name: string, make: MakeSearchIndex): void {
  describe(`SearchIndex contract: ${name}`, () => {
    const open: SearchIndexHarness[] = [];
    async function fresh(refreshIntervalMs = NO_AUTO_REFRESH): Promise<SearchIndexHarness> {
      const h = await make({ refreshIntervalMs });
      open.push(h);
      await h.index.ensureIndex();
      return h;
    }
    afterEach(async () => {
      for (const h of open.splice(0)) {
        await h.index.drop().catch(() => undefined);
        await h.close();
      }
    });

    it('creates the index idempotently and answers ping and an empty search', async () => {
      const { index } = await fresh();
      await index.ensureIndex();
      await index.ping();
      expect(await index.search('critical', { limit: 10 })).toEqual({ hits: [], total: 0 });
      expect(await index.get('nope')).toBeNull();
    });

    it('indexes a bulk with per-item results in order; get sees writes before any refresh', async () => {
      const { index } = await fresh();
      const res = await index.bulk([item('b1|critical', 1, doc('b1', 'critical')), item('b2|minor', 1, doc('b2', 'minor', true, 7))]);
      expect(res).toEqual([
        { id: 'b1|critical', status: 'ok' },
        { id: 'b2|minor', status: 'ok' },
      ]);
      expect(await index.get('b2|minor')).toEqual({ doc: doc('b2', 'minor', true, 7), version: '1' });
    });

    it('makes documents searchable only after refresh()', async () => {
      const { index } = await fresh();
      await index.bulk([item('b1|critical', 1, doc('b1', 'critical'))]);
      expect((await index.search('critical', { limit: 10 })).total).toBe(0);
      await index.refresh();
      expect(await index.search('critical', { limit: 10 })).toEqual({ hits: [{ entity: 'b1', tag: 'critical' }], total: 1 });
    });

    it('makes documents searchable after the configured refresh interval', async () => {
      const h = await fresh(500);
      await h.index.bulk([item('b1|critical', 1, doc('b1', 'critical'))]);
      await h.eventually(async () => (await h.index.search('critical', { limit: 10 })).total === 1, 'searchable after the interval');
    });

    it('lets a newer external version replace and reports an older or equal one as stale', async () => {
      const { index } = await fresh();
      expect(await index.bulk([item('e|t', 5, doc('e', 't', true, 1))])).toEqual([{ id: 'e|t', status: 'ok' }]);
      expect(await index.bulk([item('e|t', 3, doc('e', 't', false, 2)), item('e|t', 5, doc('e', 't', false, 3))])).toEqual([
        { id: 'e|t', status: 'stale' },
        { id: 'e|t', status: 'stale' },
      ]);
      expect(await index.get('e|t')).toEqual({ doc: doc('e', 't', true, 1), version: '5' });
      expect(await index.bulk([item('e|t', 7, doc('e', 't', true, 4))])).toEqual([{ id: 'e|t', status: 'ok' }]);
      expect(await index.get('e|t')).toEqual({ doc: doc('e', 't', true, 4), version: '7' });
    });

    it('applies the items of one bulk in order (same id twice, then an older one)', async () => {
      const { index } = await fresh();
      const res = await index.bulk([item('x|t', 1, doc('x', 't')), item('x|t', 2, doc('x', 't', false)), item('x|t', 1, doc('x', 't'))]);
      expect(res.map((r) => r.status)).toEqual(['ok', 'ok', 'stale']);
      expect((await index.get('x|t'))?.version).toBe('2');
    });

    it('keeps versions beyond 2^53 exact', async () => {
      const { index } = await fresh();
      const big = '9007199254740993'; // 2^53 + 1
      expect((await index.bulk([item('big|t', big, doc('big', 't'))]))[0]!.status).toBe('ok');
      expect((await index.get('big|t'))?.version).toBe(big);
      expect((await index.bulk([item('big|t', '9007199254740992', doc('big', 't', false))]))[0]!.status).toBe('stale');
      expect((await index.bulk([item('big|t', '9223372036854775807', doc('big', 't', false))]))[0]!.status).toBe('ok');
      expect((await scanAll(index)).map((d) => d.version)).toEqual(['9223372036854775807']);
    });

    it('soft-deletes: a detached document is not searchable, stays visible to get and scan, and cannot be resurrected by an older attach', async () => {
      const { index } = await fresh();
      await index.bulk([item('b1|critical', 1, doc('b1', 'critical')), item('b2|critical', 1, doc('b2', 'critical'))]);
      expect(await index.bulk([item('b1|critical', 2, doc('b1', 'critical', false))])).toEqual([{ id: 'b1|critical', status: 'ok' }]);
      await index.refresh();
      expect(await index.search('critical', { limit: 10 })).toEqual({ hits: [{ entity: 'b2', tag: 'critical' }], total: 1 });
      expect(await index.get('b1|critical')).toEqual({ doc: doc('b1', 'critical', false), version: '2' });
      expect(await scanAll(index)).toEqual([
        { id: 'b1|critical', version: '2', doc: doc('b1', 'critical', false) },
        { id: 'b2|critical', version: '1', doc: doc('b2', 'critical') },
      ]);
      expect(await index.bulk([item('b1|critical', 1, doc('b1', 'critical'))])).toEqual([{ id: 'b1|critical', status: 'stale' }]);
      await index.refresh();
      expect((await index.search('critical', { limit: 10 })).hits.map((h) => h.entity)).toEqual(['b2']);
    });

    it('searches by exact tag with a limit, sorted by entity, with the full total', async () => {
      const { index } = await fresh();
      const entities = ['e3', 'e1', 'e5', 'e2', 'e4'];
      await index.bulk([...entities.map((e) => item(`${e}|critical`, 1, doc(e, 'critical'))), item('e9|Critical', 1, doc('e9', 'Critical')), item('e8|critical-x', 1, doc('e8', 'critical-x'))]);
      await index.refresh();
      expect(await index.search('critical', { limit: 2 })).toEqual({ hits: [{ entity: 'e1', tag: 'critical' }, { entity: 'e2', tag: 'critical' }], total: 5 });
      expect((await index.search('Critical', { limit: 10 })).total).toBe(1);
    });

    it('scans every document, refreshing first, across many pages', async () => {
      const { index } = await fresh();
      const items = Array.from({ length: 1_234 }, (_, i) => item(`e${String(i).padStart(4, '0')}|t`, i + 1, doc(`e${i}`, 't', i % 3 !== 0)));
      for (let i = 0; i < items.length; i += 500) expect((await index.bulk(items.slice(i, i + 500))).every((r) => r.status === 'ok')).toBe(true);
      const all = await scanAll(index);
      expect(all.length).toBe(1_234);
      expect(all[0]).toEqual({ id: 'e0000|t', version: '1', doc: doc('e0', 't', false) });
      expect(all[1_233]).toEqual({ id: 'e1233|t', version: '1234', doc: doc('e1233', 't', false) });
      expect(all.filter((d) => d.doc.attached).length).toBe(822);
    });

    it('reports a document that violates the mapping as an item error, and indexes the rest', async () => {
      const { index } = await fresh();
      const badShard = { ...doc('b', 't'), shard: 'not-a-number' } as unknown as TagDoc;
      const extraField = { ...doc('c', 't'), colour: 'red' } as unknown as TagDoc;
      const res = await index.bulk([item('a|t', 1, doc('a', 't')), item('b|t', 1, badShard), item('c|t', 1, extraField), item('d|t', 'abc', doc('d', 't')), item('e|t', 1, doc('e', 't'))]);
      expect(res.map((r) => [r.id, r.status])).toEqual([
        ['a|t', 'ok'],
        ['b|t', 'error'],
        ['c|t', 'error'],
        ['d|t', 'error'],
        ['e|t', 'ok'],
      ]);
      for (const r of res.slice(1, 4)) {
        if (r.status !== 'error') throw new Error('expected an error');
        expect(r.httpStatus).toBe(400);
        expect(r.type).toMatch(/\w+_exception$/);
        expect(r.reason.length).toBeGreaterThan(0);
      }
      expect((res[2] as { type: string }).type).toBe('strict_dynamic_mapping_exception');
      expect(await index.get('b|t')).toBeNull();
      expect(await index.get('e|t')).not.toBeNull();
    });

    it('drops the index: everything is gone, searches fail as not found, and it can be created again', async () => {
      const { index } = await fresh();
      await index.bulk([item('a|t', 1, doc('a', 't'))]);
      await index.refresh();
      await index.drop();
      const err = await index.search('t', { limit: 1 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'BackendError' }); // classified at the index's boundary
      expect(classify(err)).toEqual({ class: 'poison', source: 'es:404' });
      await index.drop(); // dropping a missing index is fine
      await index.ensureIndex();
      expect(await index.get('a|t')).toBeNull();
      await index.refresh();
      expect(await index.search('t', { limit: 10 })).toEqual({ hits: [], total: 0 });
    });
  });
}
