// A lean HTTP/1.1 client for the load generator: keep-alive sockets to 127.0.0.1, one request at a time per
// socket, responses framed by Content-Length (or a chunked body's last chunk) without building header objects.
// node:http's client cost ~75 µs of CPU per request here, a third of a core at 5,000/s on the same two cores as
// the daemon it measures; this one costs a fraction of that, so the generator disturbs the measurement less.
import net from 'node:net';
import { systemClock } from '../lib/clock.ts';

type Done = (err: Error | null, status: number) => void;

interface Pending {
  done: Done;
  /** performance.now() past which the request is abandoned (the pool's sweep closes its connection). */
  deadline: number;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private need = -1; // body bytes still expected (-1: in headers; -2: chunked)
  private status = 0;
  closed = false;
  readonly socket: net.Socket;

  constructor(port: number, private readonly onIdle: (c: Conn) => void) {
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (d) => this.onData(d));
    this.socket.on('error', (e) => this.close(e));
    this.socket.on('close', () => this.close(new Error('connection closed')));
  }

  get busy(): boolean {
    return this.pending !== null;
  }

  send(head: string, p: Pending): void {
    this.pending = p;
    this.need = -1;
    this.socket.write(head);
  }

  close(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const p = this.pending;
    this.pending = null;
    p?.done(err, 0);
  }

  /** The request in flight, if any (the pool's sweep reads its deadline). */
  get current(): Pending | null {
    return this.pending;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      if (!this.pending) {
        if (this.buf.length > 0) this.close(new Error('unexpected bytes from the server'));
        return;
      }
      if (this.need === -1) {
        const end = this.buf.indexOf(CRLFCRLF);
        if (end < 0) return;
        const head = this.buf.toString('latin1', 0, end);
        this.status = Number(head.slice(9, 12));
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        this.buf = this.buf.subarray(end + 4);
        if (cl) this.need = Number(cl[1]);
        else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) this.need = -2;
        else this.need = 0;
      }
      if (this.need === -2) {
        const end = this.buf.indexOf(LAST_CHUNK);
        if (end < 0) return;
        this.buf = this.buf.subarray(end + LAST_CHUNK.length);
      } else {
        if (this.buf.length < this.need) return;
        this.buf = this.buf.subarray(this.need);
      }
      const p = this.pending;
      this.pending = null;
      this.onIdle(this);
      p.done(null, this.status);
    }
  }
}

/** A pool of keep-alive connections to one port; at most `maxSockets` open, each with one request in flight. */
export class RawHttpPool {
  private readonly idle: Conn[] = [];
  private open = 0;
  private openedTotal = 0;
  private readonly all = new Set<Conn>();
  private sweeping: unknown = null;

  constructor(
    private readonly port: number,
    private readonly maxSockets: number,
  ) {}

  /**
   * GET the target; `done` gets the status, or an error (socket, no free connection, `timeoutMs` passed). No
   * promise and no timer per request: one sweep every 50 ms closes the connections whose request is overdue.
   */
  request(target: { path: string; headers?: Record<string, string>; head?: string }, timeoutMs: number, done: Done): void {
    let head = target.head;
    if (head === undefined) {
      head = `GET ${target.path} HTTP/1.1\r\nhost: 127.0.0.1\r\n`;
      if (target.headers) for (const k in target.headers) head += `${k}: ${target.headers[k]}\r\n`;
      target.head = head += '\r\n';
    }
    let conn = this.idle.pop();
    while (conn && conn.closed) conn = this.idle.pop();
    if (!conn) {
      if (this.open >= this.maxSockets) return done(new Error('no free connection'), 0);
      this.open++;
      this.openedTotal++;
      const c = new Conn(this.port, (idle) => this.idle.push(idle));
      this.all.add(c);
      c.socket.once('close', () => {
        this.open--;
        this.all.delete(c);
      });
      conn = c;
      if (this.sweeping === null) this.sweep();
    }
    conn.send(head, { done, deadline: performance.now() + timeoutMs });
  }

  private sweep(): void {
    const now = performance.now();
    for (const c of this.all) {
      const p = c.current;
      if (p && now > p.deadline) c.close(new Error('timeout: no answer by its deadline'));
    }
    this.sweeping = systemClock.setTimeout(() => this.sweep(), 50);
  }

  /** Connections this pool has opened, ever (a phase's count is the difference). */
  get opened(): number {
    return this.openedTotal;
  }

  destroy(): void {
    this.idle.length = 0;
    for (const c of [...this.all]) c.close(new Error('pool destroyed'));
    if (this.sweeping !== null) systemClock.clearTimeout(this.sweeping);
    this.sweeping = null;
  }
}
