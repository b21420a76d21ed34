// A SearchIndex that injects failures in front of a real one (nact's failure-injecting fakes): per-item
// answers (a 429, a mapping rejection) for chosen documents, or a failure of whole requests.
import type { BulkItem, BulkItemResult, SearchHit, SearchIndex, TagDoc } from '../../adapters/search/port.ts';

export type ItemFault = (item: BulkItem, call: number) => BulkItemResult | null;

export class FaultySearchIndex implements SearchIndex {
  itemFaults: ItemFault[] = [];
  requestFault: ((call: number) => Error | null) | null = null;
  bulkCalls = 0;
  injected = 0;

  constructor(readonly inner: SearchIndex) {}

  async bulk(items: BulkItem[]): Promise<BulkItemResult[]> {
    const call = ++this.bulkCalls;
    const whole = this.requestFault?.(call);
    if (whole) throw whole;
    const out: Array<BulkItemResult | null> = items.map((it) => {
      for (const f of this.itemFaults) {
        const r = f(it, call);
        if (r) {
          this.injected++;
          return r;
        }
      }
      return null;
    });
    const rest = items.filter((_, i) => out[i] === null);
    const res = rest.length > 0 ? await this.inner.bulk(rest) : [];
    let k = 0;
    return out.map((r) => r ?? res[k++]!);
  }

  ensureIndex(): Promise<void> {
    return this.inner.ensureIndex();
  }
  search(tag: string, opts: { limit: number }): Promise<{ hits: SearchHit[]; total: number }> {
    return this.inner.search(tag, opts);
  }
  get(id: string): Promise<{ doc: TagDoc; version: string } | null> {
    return this.inner.get(id);
  }
  scan(): AsyncIterable<{ id: string; version: string; doc: TagDoc }> {
    return this.inner.scan();
  }
  refresh(): Promise<void> {
    return this.inner.refresh();
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  drop(): Promise<void> {
    return this.inner.drop();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
