// A TCP proxy in front of one PostgreSQL node, for partition tests: while it passes, bytes flow both ways;
// cut() black-holes the link as a network partition does (no reset, no refusal: established connections
// and new ones alike stay open and silent, so clients find out by their own timeouts); heal() lets new
// connections through again (the black-holed ones stay dead, as after a real partition).
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface PgProxy {
  host: string;
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startPgProxy(target: { host: string; port: number }): Promise<PgProxy> {
  let cut = false;
  const live = new Set<{ client: Socket; upstream: Socket | null }>();
  const blackhole = (c: { client: Socket; upstream: Socket | null }) => {
    c.client.unpipe();
    c.upstream?.unpipe();
    c.client.removeAllListeners('data');
    c.upstream?.removeAllListeners('data');
    // Read and drop: the client's writes succeed locally and nothing ever comes back.
    c.client.on('data', () => undefined);
    c.upstream?.destroy();
    c.upstream = null;
  };
  const server: Server = createServer((client) => {
    proxy.accepted++;
    const c = { client, upstream: null as Socket | null };
    live.add(c);
    client.on('error', () => undefined);
    client.on('close', () => {
      c.upstream?.destroy();
      live.delete(c);
    });
    if (cut) return blackhole(c);
    const upstream = connect(target.port, target.host);
    c.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      if (!cut) client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const proxy: PgProxy = {
    host: '127.0.0.1',
    port: (server.address() as { port: number }).port,
    accepted: 0,
    cut() {
      cut = true;
      for (const c of live) blackhole(c);
    },
    heal() {
      cut = false;
    },
    close() {
      for (const c of live) {
        c.client.destroy();
        c.upstream?.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
