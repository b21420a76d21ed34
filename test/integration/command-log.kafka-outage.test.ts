// KafkaCommandLog through a broker outage, without disturbing the shared broker: this client's connections
// go through a socket factory whose "cable" the test cuts (broker dead: resets and refusals; broker frozen:
// silence) and mends.
// Calls fail fast and retriably while unplugged; afterwards the same log produces again and the same
// subscription resumes from its committed offsets, so every acknowledged record is delivered.
import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { KafkaCommandLog } from '../../adapters/kafka/kafka-command-log.ts';
import type { LogRecord } from '../../adapters/kafka/port.ts';
import { classify } from '../../lib/classify.ts';
import { createLogger } from '../../lib/logger.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const config = localConfig();

type Outage = 'dead' | 'frozen';

class Cable {
  private sockets = new Set<net.Socket>();
  private outage: Outage | null = null;
  /** Accepts connections and never answers: where new connections go while the broker is frozen. */
  private readonly blackhole = net.createServer((s) => this.held.push(s));
  private held: net.Socket[] = [];

  async open(): Promise<void> {
    await new Promise<void>((resolve) => this.blackhole.listen(0, '127.0.0.1', resolve));
  }
  async close(): Promise<void> {
    for (const s of this.held) s.destroy();
    await new Promise<void>((resolve) => this.blackhole.close(() => resolve()));
  }

  readonly socketFactory = ({ host, port, onConnect }: { host: string; port: number; onConnect: () => void }): net.Socket => {
    const target = this.outage === 'dead' ? { host: '127.0.0.1', port: 1 } : this.outage === 'frozen' ? (this.blackhole.address() as net.AddressInfo) : { host, port };
    const s = net.connect({ host: '127.0.0.1', port: target.port, ...(this.outage ? {} : { host }) }, onConnect);
    s.setKeepAlive(true, 60_000);
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    return s;
  };

  /**
   * dead: as when the broker process dies — open connections are reset (ECONNRESET), new ones refused.
   * frozen: as when it hangs (SIGSTOP, a partition) — nothing comes back on open or new connections.
   */
  cut(outage: Outage): void {
    this.outage = outage;
    for (const s of this.sockets) {
      if (outage === 'dead') s.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      else s.pause();
    }
  }
  mend(): void {
    this.outage = null;
    for (const s of this.sockets) s.resume();
  }
}

/** Retries `fn` until it succeeds: waits for a state (the broker reachable again, a record delivered), polling. */
function eventually<T>(fn: () => Promise<T>, what: string, ms = 90_000): Promise<T> {
  return vi.waitFor(
    () =>
      fn().catch((err: unknown) => {
        throw new Error(`not yet: ${what}`, { cause: err });
      }),
    { timeout: ms, interval: 100 },
  );
}

describe('KafkaCommandLog through a broker outage', () => {
  it.each<[Outage]>([['dead'], ['frozen']])('%s broker: fails retriably and boundedly, then produces and consumes again with nothing acknowledged lost', async (outage) => {
    const cable = new Cable();
    await cable.open();
    const log = new KafkaCommandLog({ brokers: [...config.kafka.brokers], clientId: 'tagstream-outage', logger: createLogger({ level: 'silent' }), connectionTimeoutMs: 1_000, socketFactory: cable.socketFactory });
    try {
      const topic = uniqueName('outage');
      const group = uniqueName('g');
      await log.ensureTopic(topic, 2);
      const seen = new Map<string, LogRecord>();
      const sub = await log.subscribe({ groupId: group, topics: [topic], fromBeginning: true, eachBatch: async (b) => b.records.forEach((r) => seen.set(r.value!, r)) });
      const acked: string[] = [];
      const produce = async (values: string[]) => {
        await log.produce(topic, values.map((value, i) => ({ key: `k${i}`, value })));
        acked.push(...values);
      };

      await produce(['a0', 'a1', 'a2', 'a3']);
      await eventually(async () => expect(seen.size).toBe(4), 'first records delivered');
      const positions = [...seen.values()].reduce((m, r) => m.set(r.partition, String(Number(r.offset) + 1)), new Map<number, string>());
      await sub.commit([...positions].map(([partition, offset]) => ({ topic, partition, offset })));
      cable.cut(outage);
      // The cable stays cut: a call can end only through the client's own timeouts and retries (a call without
      // them would hang and the test fail at its timeout), so it failing at all, retriably, is the proof.
      const err = await produce(['lost?']).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).not.toBeNull();
      expect(classify(err).class).toBe('retry');
      await expect(log.endOffsets(topic)).rejects.toThrow();
      const commitErr = await sub.commit([{ topic, partition: 0, offset: '0' }]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(classify(commitErr).class).toBe('retry');
      cable.mend();
      await eventually(() => produce(['b0', 'b1', 'b2', 'b3']), 'produce after the outage');
      await eventually(async () => expect(acked.every((v) => seen.has(v))).toBe(true), 'every acknowledged record delivered after the outage');
      await eventually(() => sub.commit([{ topic, partition: 0, offset: String(Math.max(...[...seen.values()].filter((r) => r.partition === 0).map((r) => Number(r.offset) + 1), 0)) }]), 'commit after the outage');
      expect((await log.committed(group, topic)).has(0)).toBe(true);
    } finally {
      cable.mend();
      await log.close();
      await cable.close();
    }
  });
});
