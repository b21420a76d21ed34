// A broker reports the high watermark it read before it read the records, so a fetch racing an append can carry
// records at or above the watermark it reports (the CommandLog contract saw offsets 4..7 with watermark 4). The
// subscription raises the watermark to just past the batch's last record, so lag is never negative.
import { describe, expect, it } from 'vitest';
import { batchHighWatermark } from '../../../../adapters/kafka/kafka-subscription.ts';

describe('batchHighWatermark', () => {
  it('keeps a watermark past the batch', () => {
    expect(batchHighWatermark('12', '7')).toBe('12');
    expect(batchHighWatermark('8', '7')).toBe('8');
  });
  it('raises a watermark taken before the batch was appended to just past its last record', () => {
    expect(batchHighWatermark('4', '7')).toBe('8');
    expect(batchHighWatermark('7', '7')).toBe('8');
  });
  it('works past 2^53', () => {
    expect(batchHighWatermark('0', '9007199254740993')).toBe('9007199254740994');
  });
});
