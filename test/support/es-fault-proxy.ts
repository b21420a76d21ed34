// An HTTP proxy in front of a real Elasticsearch that answers some bulk requests, or some bulk items, with
// 429 es_rejected_execution_exception exactly as a saturated node does — everything else goes through.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EsFaultProxy {
  url: string;
  bulkCalls: number;
  rejectedRequests: number;
  rejectedItems: number;
  /** Bulk call number (1-based) → reject the whole request with a 429. */
  rejectRequest: (call: number) => boolean;
  /** Reject this document id with a 429 this time (seen = how often it was sent before). */
  rejectItem: (id: string, seen: number) => boolean;
  close(): Promise<void>;
}

const REJECTED = { type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=0, max_coordinating_and_primary_bytes=0]' };

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startEsFaultProxy(target: string): Promise<EsFaultProxy> {
  const seen = new Map<string, number>();
  const proxy: EsFaultProxy = {
    url: '',
    bulkCalls: 0,
    rejectedRequests: 0,
    rejectedItems: 0,
    rejectRequest: () => false,
    rejectItem: () => false,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const forward = async (method: string, path: string, headers: Record<string, string>, payload: Buffer | undefined) => {
    const res = await fetch(`${target}${path}`, { method, headers, ...(payload && payload.length > 0 ? { body: payload } : {}) });
    return { status: res.status, contentType: res.headers.get('content-type') ?? 'application/json', text: await res.text() };
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const payload = await body(req);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
      const path = req.url ?? '/';
      const send = (status: number, text: string, contentType = 'application/json') => {
        res.writeHead(status, { 'content-type': contentType, 'x-elastic-product': 'Elasticsearch' });
        res.end(text);
      };
      if (req.method !== 'POST' || !/\/_bulk(\?|$)/.test(path)) {
        const r = await forward(req.method ?? 'GET', path, headers, payload);
        return send(r.status, r.text, r.contentType);
      }
      const call = ++proxy.bulkCalls;
      if (proxy.rejectRequest(call)) {
        proxy.rejectedRequests++;
        return send(429, JSON.stringify({ error: { root_cause: [REJECTED], ...REJECTED }, status: 429 }));
      }
      // Per item: pull rejected items out of the request, answer them with 429, merge with the real answers.
      const lines = payload.toString('utf8').split('\n').filter((l) => l.length > 0);
      const keep: string[] = [];
      const plan: Array<{ rejected: { _index: string; _id: string } } | { forwarded: true }> = [];
      for (let i = 0; i < lines.length; i += 2) {
        const action = JSON.parse(lines[i]!) as { index: { _index: string; _id: string } };
        const id = action.index._id;
        const n = seen.get(id) ?? 0;
        seen.set(id, n + 1);
        if (proxy.rejectItem(id, n)) {
          proxy.rejectedItems++;
          plan.push({ rejected: { _index: action.index._index, _id: id } });
        } else {
          keep.push(lines[i]!, lines[i + 1]!);
          plan.push({ forwarded: true });
        }
      }
      const real = keep.length > 0 ? await forward('POST', path, headers, Buffer.from(keep.join('\n') + '\n')) : { status: 200, text: JSON.stringify({ errors: false, took: 0, items: [] }), contentType: 'application/json' };
      if (real.status !== 200) return send(real.status, real.text, real.contentType);
      const answered = JSON.parse(real.text) as { errors: boolean; took: number; items: unknown[] };
      let k = 0;
      const items = plan.map((p) => ('rejected' in p ? { index: { ...p.rejected, status: 429, error: REJECTED } } : answered.items[k++]));
      send(200, JSON.stringify({ errors: answered.errors || plan.some((p) => 'rejected' in p), took: answered.took, items }));
    })().catch((err: unknown) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
