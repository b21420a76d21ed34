// kafkajs' fetchTopicOffsets on a topic whose partitions its metadata does not list yet throws a TypeError; the
// adapter reports it as the retriable unknown-topic error it is, and passes every other error through.
import { describe, expect, it } from 'vitest';
import { fetchTopicOffsets } from '../../../../adapters/kafka/topic-offsets.ts';
import { classify } from '../../../../lib/classify.ts';

const admin = (err: unknown) => ({ fetchTopicOffsets: async () => Promise.reject(err) });

describe('fetchTopicOffsets', () => {
  it("a just-created topic's empty metadata (kafkajs' TypeError) is a retriable unknown topic", async () => {
    const err = await fetchTopicOffsets(admin(new TypeError("Cannot destructure property 'partitions' of 'low.pop(...)' as it is undefined.")), 'ctl').catch((e: unknown) => e);
    expect(err).toMatchObject({ retriable: true, type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(classify(err).class).toBe('retry');
  });

  it('answers the offsets, and passes any other error through', async () => {
    const offsets = [{ partition: 0, offset: '5', high: '5', low: '0' }];
    expect(await fetchTopicOffsets({ fetchTopicOffsets: async () => offsets }, 'ctl')).toBe(offsets);
    const other = new TypeError('something else');
    expect(await fetchTopicOffsets(admin(other), 'ctl').catch((e: unknown) => e)).toBe(other);
  });
});
