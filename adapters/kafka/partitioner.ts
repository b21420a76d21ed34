// Kafka's default partitioner for keyed records: toPositive(murmur2(utf8(key))) % partitions, as in the Java
// client and kafkajs' Partitioners.DefaultPartitioner. KafkaCommandLog and MemoryCommandLog both use this one
// function, so an entity's commands land on the same partition whichever log carries them.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Java's Utils.murmur2 on the bytes of `data`, as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    case 3:
      h ^= (data[tail + 2]! & 0xff) << 16;
    // falls through
    case 2:
      h ^= (data[tail + 1]! & 0xff) << 8;
    // falls through
    case 1:
      h ^= data[tail]! & 0xff;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const encoder = new TextEncoder();

/** The partition Kafka's default partitioner picks for `key` among `partitions`. */
export function partitionForKey(key: string | Uint8Array, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer (got ${partitions})`);
  const bytes = typeof key === 'string' ? encoder.encode(key) : key;
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}
