// The test-side Prometheus parser is strict enough to be trusted by the /metrics test: it accepts what
// prom-client writes and rejects what a scraper would.
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parsePrometheus, samples } from '../../support/prometheus.ts';

describe('parsePrometheus', () => {
  it('reads counters, gauges and histograms as prom-client writes them, with escaped label values', async () => {
    const registry = new client.Registry();
    new client.Counter({ name: 't_total', help: 'a counter', labelNames: ['k'], registers: [registry] }).inc({ k: 'quote " and \\ and\nnewline' }, 2);
    new client.Gauge({ name: 't_gauge', help: 'a gauge', registers: [registry] }).set(-1.5);
    const h = new client.Histogram({ name: 't_seconds', help: 'a histogram', labelNames: ['op'], buckets: [0.1, 1], registers: [registry] });
    h.observe({ op: 'x' }, 0.05);
    h.observe({ op: 'x' }, 5);
    const f = parsePrometheus(await registry.metrics());
    expect(f.get('t_total')).toMatchObject({ type: 'counter', help: 'a counter' });
    expect(samples(f, 't_total')[0]).toEqual({ name: 't_total', labels: { k: 'quote " and \\ and\nnewline' }, value: 2 });
    expect(samples(f, 't_gauge')[0]!.value).toBe(-1.5);
    expect(samples(f, 't_seconds', { op: 'x', le: '+Inf' }, 't_seconds_bucket')[0]!.value).toBe(2);
    expect(samples(f, 't_seconds', { op: 'x' }, 't_seconds_count')[0]!.value).toBe(2);
  });

  it.each([
    ['a sample of no declared family', '# TYPE a gauge\nb 1\n'],
    ['a malformed value', '# TYPE a gauge\na one\n'],
    ['an unquoted label value', '# TYPE a gauge\na{x=1} 1\n'],
    ['a bad label name', '# TYPE a gauge\na{1x="v"} 1\n'],
    ['the same series twice', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'],
    ['an unknown type', '# TYPE a meter\n'],
    ['a TYPE after samples', '# TYPE a gauge\na 1\n# TYPE a counter\n'],
    ['a histogram whose +Inf bucket is not its count', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 3\n'],
    ['a histogram with decreasing buckets', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePrometheus(text)).toThrow();
  });
});
