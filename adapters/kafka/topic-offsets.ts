// A topic's low and high watermarks per partition (kafkajs admin.fetchTopicOffsets), with the driver's one known
// defect turned into what it means: for a topic created a moment ago whose partitions the cached metadata does
// not list yet, kafkajs asks for no partitions and then destructures an empty answer — a TypeError
// ("Cannot destructure property 'partitions' of 'low.pop(...)'"), logged at every fleet start. It is the topic
// not being known yet: a retriable unknown-topic error, which callers already retry.
import type { Admin } from 'kafkajs';
import { unknownTopic } from './delivery.ts';

export type TopicOffsets = Awaited<ReturnType<Admin['fetchTopicOffsets']>>;

export async function fetchTopicOffsets(admin: Pick<Admin, 'fetchTopicOffsets'>, topic: string): Promise<TopicOffsets> {
  try {
    return await admin.fetchTopicOffsets(topic);
  } catch (err) {
    if (err instanceof TypeError && /destructure property 'partitions'/.test(err.message)) throw unknownTopic(topic);
    throw err;
  }
}
