// The drill's per-cluster applied rates (issue 17): parsed from /metrics, stitched across daemon restarts,
// and the whole-cluster fault kind in the schedule with its configurable length.
import { describe, expect, it } from 'vitest';
import { parseApplied, ratesBetween } from '../../../drill/cluster-rates.ts';
import { FAULT_KINDS, faultSchedule } from '../../../drill/schedule.ts';

describe('drill: per-cluster applied rates', () => {
  it('reads tagstream_applied_commands_total per cluster from the exposition text', () => {
    const text = ['# HELP tagstream_applied_commands_total x', 'tagstream_applied_commands_total{cluster="pg0"} 1200', 'tagstream_applied_commands_total{cluster="pg1"} 7', 'tagstream_other 3'].join('\n');
    expect(parseApplied(text)).toEqual({ pg0: 1200, pg1: 7 });
  });

  it('rates between two times come from the nearest samples', () => {
    const samples = [
      { t: 0, applied: { pg0: 0, pg1: 0 } },
      { t: 10, applied: { pg0: 1000, pg1: 1000 } },
      { t: 20, applied: { pg0: 2000, pg1: 1000 } },
    ];
    expect(ratesBetween(samples, 10, 20)).toEqual({ pg0: 100, pg1: 0 });
    expect(ratesBetween(samples, 0, 20)).toEqual({ pg0: 100, pg1: 50 });
  });

  it('the whole-cluster outage is a fault kind; its length can be fixed', () => {
    expect(FAULT_KINDS).toContain('pg-cluster-stop');
    const s = faultSchedule({ seed: 3, seconds: 1_800, clusters: 2, redis: 2, clusterOutageS: 45 });
    const outages = s.filter((f) => f.kind === 'pg-cluster-stop');
    expect(outages.length).toBeGreaterThan(0);
    for (const f of outages) expect(f.durationS).toBe(45);
  });
});
