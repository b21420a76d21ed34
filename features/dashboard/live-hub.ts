// Server-sent events to the open dashboards. Events are batched (one write per client every `flushMs`) and
// capped per batch, so a burst of retry-machine transitions cannot flood a browser; a client that cannot keep
// up (its socket buffer keeps growing) is dropped and reconnects to a fresh snapshot.
import type { ServerResponse } from 'node:http';
import type { Clock, TimerHandle } from '../../lib/clock.ts';

export interface LiveEvent {
  type: 'machine' | 'actor' | 'sample' | 'operator';
  data: unknown;
}

export interface LiveHub {
  /** Takes over a raw HTTP response and streams to it until it closes or the hub does. */
  attach(res: ServerResponse, initial: unknown): void;
  publish(e: LiveEvent): void;
  clients(): number;
  close(): void;
}

export function createLiveHub(opts: { clock: Clock; flushMs?: number; maxPerBatch?: number; heartbeatMs?: number; maxBufferedBytes?: number }): LiveHub {
  const flushMs = opts.flushMs ?? 200;
  const maxPerBatch = opts.maxPerBatch ?? 500;
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const clients = new Set<ServerResponse>();
  let pending: LiveEvent[] = [];
  let skipped = 0;
  let flushTimer: TimerHandle | null = null;
  let heartbeat: TimerHandle | null = null;
  let closed = false;

  const send = (res: ServerResponse, event: string, data: unknown) => {
    if (res.writableLength > maxBuffered) {
      clients.delete(res);
      res.end();
      return;
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const flush = () => {
    flushTimer = null;
    if (pending.length === 0) return;
    const batch = { events: pending, skipped };
    pending = [];
    skipped = 0;
    for (const res of clients) send(res, 'batch', batch);
  };

  const beat = () => {
    heartbeat = null;
    if (closed) return;
    for (const res of clients) res.write(': keep-alive\n\n');
    heartbeat = opts.clock.setTimeout(beat, opts.heartbeatMs ?? 15_000);
  };

  return {
    attach(res, initial) {
      if (closed) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write('retry: 1000\n\n');
      send(res, 'snapshot', initial);
      clients.add(res);
      res.on('close', () => clients.delete(res));
      if (heartbeat === null) heartbeat = opts.clock.setTimeout(beat, opts.heartbeatMs ?? 15_000);
    },
    publish(e) {
      if (closed || clients.size === 0) return;
      pending.push(e);
      if (pending.length > maxPerBatch) {
        // Keep samples and operator records; shed the oldest machine/actor events first.
        const i = pending.findIndex((p) => p.type === 'machine' || p.type === 'actor');
        pending.splice(i < 0 ? 0 : i, 1);
        skipped++;
      }
      if (flushTimer === null) flushTimer = opts.clock.setTimeout(flush, flushMs);
    },
    clients: () => clients.size,
    close() {
      closed = true;
      if (flushTimer !== null) opts.clock.clearTimeout(flushTimer);
      if (heartbeat !== null) opts.clock.clearTimeout(heartbeat);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
