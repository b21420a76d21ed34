import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, faultSchedule } from '../../../drill/schedule.ts';

describe('faultSchedule', () => {
  it('same seed, same schedule; another seed, another schedule', () => {
    const a = faultSchedule({ seed: 7, seconds: 1_800, clusters: 2, redis: 2 });
    expect(faultSchedule({ seed: 7, seconds: 1_800, clusters: 2, redis: 2 })).toEqual(a);
    expect(faultSchedule({ seed: 8, seconds: 1_800, clusters: 2, redis: 2 })).not.toEqual(a);
  });

  it('a 30-minute drill has at least one fault of each kind, none overlapping, all healed before the end', () => {
    const s = faultSchedule({ seed: 1, seconds: 1_800, clusters: 2, redis: 2, settleS: 30 });
    expect(new Set(s.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    for (let i = 1; i < s.length; i++) expect(s[i]!.at).toBeGreaterThanOrEqual(s[i - 1]!.at + s[i - 1]!.durationS);
    for (const f of s) expect(f.at + f.durationS).toBeLessThanOrEqual(1_800 - 30);
  });

  it('a 3-minute drill still injects several faults', () => {
    expect(faultSchedule({ seed: 1, seconds: 180, clusters: 2, redis: 2 }).length).toBeGreaterThanOrEqual(3);
  });
});
