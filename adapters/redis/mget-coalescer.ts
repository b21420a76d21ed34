// Coalesces the MGETs asked for in one event-loop turn into one MGET (every distinct key once): under read load
// each HTTP read asks its cache shard for three keys (the epoch, the entity, its floor), and one command per read
// cost the daemon a driver command, a promise, a timer and a reply array each — and ioredis' per-command objects
// were most of what survived the young generation's collections (bench/reads.ts, a heap profile of the healthy
// phase). Now a turn of N reads is one command of at most 2N+1 keys. Answers go back to each caller in its own
// key order; a failed MGET fails every caller in it (as a failed pipeline did).

export type SendMget = (keys: string[]) => Promise<Array<string | null>>;

interface Caller {
  keys: string[];
  resolve: (values: Array<string | null>) => void;
  reject: (err: unknown) => void;
}

export class MgetCoalescer {
  private waiting: Caller[] = [];
  private keyCount = 0;
  private scheduled = false;
  /** Commands sent and calls answered by them (the tests read the ratio). */
  commands = 0;
  calls = 0;

  constructor(
    private readonly send: SendMget,
    /** Keys per MGET at most; a turn that asks for more is sent as several. */
    private readonly maxKeys = 1_000,
  ) {}

  mget(keys: string[]): Promise<Array<string | null>> {
    return new Promise((resolve, reject) => {
      if (this.keyCount + keys.length > this.maxKeys && this.waiting.length > 0) this.flush();
      this.waiting.push({ keys, resolve, reject });
      this.keyCount += keys.length;
      if (!this.scheduled) {
        this.scheduled = true;
        // After the poll phase: every read that arrived in this turn of the event loop joins the command.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const group = this.waiting;
    this.waiting = [];
    this.keyCount = 0;
    this.scheduled = false;
    if (group.length === 0) return;
    this.commands++;
    this.calls += group.length;
    if (group.length === 1) {
      const only = group[0]!;
      this.send(only.keys).then(only.resolve, only.reject);
      return;
    }
    const index = new Map<string, number>();
    const distinct: string[] = [];
    for (const c of group) for (const k of c.keys) if (!index.has(k)) index.set(k, distinct.push(k) - 1);
    this.send(distinct).then(
      (values) => {
        for (const c of group) c.resolve(c.keys.map((k) => values[index.get(k)!] ?? null));
      },
      (err: unknown) => {
        for (const c of group) c.reject(err);
      },
    );
  }
}
