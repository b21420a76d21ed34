// partitionForKey is Kafka's default partitioner: the same answers as kafkajs' DefaultPartitioner (murmur2,
// Java-compatible) for any key and partition count, and the fixed table the contract suite pins on Kafka.
import fc from 'fast-check';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../../../adapters/kafka/partitioner.ts';
import { PARTITIONS_OF_8 } from '../../../contract/command-log.contract.ts';

const kafkajsPartition = (key: string, n: number): number =>
  kafkajs.Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata: Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] })),
    message: { key, value: 'v' },
  });

describe('partitionForKey', () => {
  it('matches the fixed table for 8 partitions', () => {
    for (const [key, p] of Object.entries(PARTITIONS_OF_8)) expect(partitionForKey(key, 8)).toBe(p);
  });

  it('agrees with kafkajs DefaultPartitioner for any key and partition count', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer({ min: 1, max: 128 }), (key, n) => {
        expect(partitionForKey(key, n)).toBe(kafkajsPartition(key, n));
      }),
      { numRuns: 2_000 },
    );
  });

  it('matches the Java client’s murmur2 reference values', () => {
    // From org.apache.kafka.common.utils.UtilsTest#testMurmur2.
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [s, h] of cases) expect(murmur2(new TextEncoder().encode(s))).toBe(h);
  });

  it('takes bytes as well as strings, and refuses a partition count below one', () => {
    expect(partitionForKey(new TextEncoder().encode('bug-123'), 8)).toBe(partitionForKey('bug-123', 8));
    expect(() => partitionForKey('k', 0)).toThrow(RangeError);
  });
});
