// MemoryCommandLog: the embedded profile's CommandLog. An in-process partitioned log with consumer groups,
// explicitly committed offsets, round-robin group assignment and eager rebalances, keyed with the same
// murmur2 partitioner as Kafka. Fault injection: setAvailable(false) makes it behave like a dead broker.
// Its errors are shaped like kafkajs' and leave through the same converter (toKafkaError) as KafkaCommandLog's.
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { OutageHooks } from '../fault-hooks.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { parseOffset, timerRedelivery, tpKey, unavailable, unknownTopic, type RedeliveryFactory } from './delivery.ts';
import { toKafkaError } from './errors.ts';
import { MemorySubscription, type MemberHost } from './memory-subscription.ts';
import { partitionForKey } from './partitioner.ts';
import type { CommandLog, LogMessage, LogRecord, ProduceResult, SubscribeOptions, Subscription, TopicPartitionOffset } from './port.ts';

export interface MemoryCommandLogOptions {
  clock?: Clock;
  logger?: Logger;
  /** Most records in one delivered batch. */
  maxBatchRecords?: number;
  random?: () => number;
  /** The back-off before a batch whose handler threw is delivered again (default: timerRedelivery). */
  redelivery?: RedeliveryFactory;
}

interface Group {
  committed: Map<string, number>;
  members: MemorySubscription[];
  /** Rebalances of a group run one after another. */
  rebalancing: Promise<void>;
}

export class MemoryCommandLog implements CommandLog {
  private topics = new Map<string, { partitions: LogRecord[][]; roundRobin: number }>();
  private groups = new Map<string, Group>();
  private isAvailable = true;
  private closed = false;
  private busy = 0;
  private rebalances = 0;
  private idleWaiters: Array<() => void> = [];
  private memberSeq = 0;
  private readonly host: MemberHost;

  constructor(opts: MemoryCommandLogOptions = {}) {
    const clock = opts.clock ?? systemClock;
    const logger = opts.logger ?? silentLogger();
    const random = opts.random ?? Math.random;
    this.host = {
      clock,
      logger,
      random,
      maxBatchRecords: opts.maxBatchRecords ?? 500,
      available: () => this.isAvailable,
      records: (topic, partition, from, limit) => this.partitionLog(topic, partition).slice(from, from + limit),
      endOffset: (topic, partition) => this.partitionLog(topic, partition).length,
      committedOffset: (groupId, topic, partition) => this.groups.get(groupId)?.committed.get(tpKey(topic, partition)),
      commit: async (groupId, offsets) => this.commit(groupId, offsets),
      leave: async (member) => this.leave(member),
      deliveryStarted: () => void this.busy++,
      deliveryEnded: () => {
        this.busy--;
        this.checkIdle();
      },
      redelivery: opts.redelivery ?? (() => timerRedelivery(clock, random)),
    };
  }

  /**
   * Fault injection: while unavailable, every call rejects like a dead broker and nothing is delivered.
   * On recovery every group rebalances, as kafkajs consumers that crashed during the outage rejoin: each
   * partition restarts from its committed offset, so uncommitted records are delivered again.
   */
  readonly faults: OutageHooks = { setAvailable: (a) => this.setAvailable(a) };

  setAvailable(available: boolean): void {
    const recovered = available && !this.isAvailable;
    this.isAvailable = available;
    if (recovered) for (const g of this.groups.values()) if (g.members.length > 0) void this.rebalance(g);
  }

  /** Resolves once no batch is in flight and none could be delivered without time passing (tests). */
  whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      queueMicrotask(() => this.checkIdle());
    });
  }

  async ensureTopic(name: string, partitions: number): Promise<void> {
    this.check();
    if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer (got ${partitions})`);
    if (this.topics.has(name)) return;
    this.topics.set(name, { partitions: Array.from({ length: partitions }, () => []), roundRobin: 0 });
  }

  async produce(topic: string, messages: LogMessage[]): Promise<ProduceResult[]> {
    this.check();
    const t = this.topics.get(topic);
    if (!t) throw toKafkaError(unknownTopic(topic));
    const n = t.partitions.length;
    const targets = messages.map((m) => {
      const p = m.partition ?? (m.key !== null ? partitionForKey(m.key, n) : t.roundRobin++ % n);
      if (!Number.isInteger(p) || p < 0 || p >= n) throw toKafkaError(unknownTopic(`${topic}[${p}]`));
      return p;
    });
    const timestamp = this.host.clock.now();
    const results = messages.map((m, i) => {
      const partition = targets[i]!;
      const log = t.partitions[partition]!;
      const offset = String(log.length);
      log.push({ topic, partition, offset, key: m.key, value: m.value, headers: { ...(m.headers ?? {}) }, timestamp });
      return { topic, partition, offset };
    });
    this.wake(topic);
    return results;
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    this.check();
    for (const topic of opts.topics) if (!this.topics.has(topic)) throw toKafkaError(unknownTopic(topic));
    const group = this.group(opts.groupId);
    const member = new MemorySubscription(this.host, { ...opts, topics: [...opts.topics] }, `member-${++this.memberSeq}`);
    group.members.push(member);
    await this.rebalance(group);
    return member;
  }

  async committed(groupId: string, topic: string): Promise<Map<number, string>> {
    this.check();
    const out = new Map<number, string>();
    const t = this.topics.get(topic);
    const g = this.groups.get(groupId);
    if (!t || !g) return out;
    for (let p = 0; p < t.partitions.length; p++) {
      const o = g.committed.get(tpKey(topic, p));
      if (o !== undefined) out.set(p, String(o));
    }
    return out;
  }

  async endOffsets(topic: string): Promise<Map<number, string>> {
    this.check();
    const t = this.topics.get(topic);
    if (!t) throw toKafkaError(unknownTopic(topic));
    return new Map(t.partitions.map((log, p) => [p, String(log.length)]));
  }

  async read(topic: string, partition: number, fromOffset: string, limit: number): Promise<LogRecord[]> {
    this.check();
    const from = parseOffset(fromOffset);
    return this.partitionLog(topic, partition)
      .slice(from, from + Math.max(0, limit))
      .map((r) => ({ ...r, headers: { ...r.headers } }));
  }

  async groupMembers(groupId: string): Promise<number> {
    this.check();
    return this.groups.get(groupId)?.members.length ?? 0;
  }

  async partitionCount(topic: string): Promise<number> {
    this.check();
    const t = this.topics.get(topic);
    if (!t) throw toKafkaError(unknownTopic(topic));
    return t.partitions.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const members = [...this.groups.values()].flatMap((g) => g.members);
    await Promise.all(members.map((m) => m.stop()));
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw toKafkaError(unavailable('the embedded log is closed'));
    if (!this.isAvailable) throw toKafkaError(unavailable('embedded log unavailable (fault injected)'));
  }

  private partitionLog(topic: string, partition: number): LogRecord[] {
    const log = this.topics.get(topic)?.partitions[partition];
    if (!log) throw toKafkaError(unknownTopic(`${topic}[${partition}]`));
    return log;
  }

  private group(groupId: string): Group {
    let g = this.groups.get(groupId);
    if (!g) this.groups.set(groupId, (g = { committed: new Map(), members: [], rebalancing: Promise.resolve() }));
    return g;
  }

  private async commit(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    this.check();
    const g = this.group(groupId);
    for (const o of offsets) g.committed.set(tpKey(o.topic, o.partition), parseOffset(o.offset));
  }

  private async leave(member: MemorySubscription): Promise<void> {
    const g = this.groups.get(member.opts.groupId);
    if (!g) return;
    g.members = g.members.filter((m) => m !== member);
    await this.rebalance(g);
  }

  /** Eager rebalance: wait for batches in flight, then split the partitions round-robin over the live members. */
  private rebalance(g: Group): Promise<void> {
    this.rebalances++;
    g.rebalancing = g.rebalancing.then(async () => {
      const members = g.members.filter((m) => !m.isStopped);
      await Promise.all(members.map((m) => m.freeze()));
      const topics = [...new Set(members.flatMap((m) => m.opts.topics))].sort();
      const plan = new Map<MemorySubscription, Array<{ topic: string; partition: number }>>(members.map((m) => [m, []]));
      let next = 0;
      for (const topic of topics) {
        const candidates = members.filter((m) => m.opts.topics.includes(topic));
        const n = this.topics.get(topic)?.partitions.length ?? 0;
        for (let partition = 0; partition < n; partition++) plan.get(candidates[next++ % candidates.length]!)!.push({ topic, partition });
      }
      for (const [m, assigned] of plan) m.assign(assigned);
    }).finally(() => {
      this.rebalances--;
      this.checkIdle();
    });
    return g.rebalancing;
  }

  private wake(topic: string): void {
    for (const g of this.groups.values()) for (const m of g.members) if (m.opts.topics.includes(topic)) m.kickAll();
  }

  private checkIdle(): void {
    if (this.busy > 0 || this.rebalances > 0 || this.idleWaiters.length === 0) return;
    for (const g of this.groups.values()) for (const m of g.members) if (m.hasDeliverable()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
