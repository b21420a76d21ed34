// A feature's section of /status is its own type and must be JSON as it is: interfaces qualify, a Map, a function,
// a bigint or `unknown` in it does not compile (tsc checks the @ts-expect-error lines; vitest runs the rest).
import { describe, expect, it } from 'vitest';
import type { Feature } from '../../../features/feature.ts';

interface Monitor {
  state: 'healthy' | 'failing-over';
  lastFailover: { at: number; from: string; reason?: string } | null;
  nodes: readonly string[];
}

describe('Feature.status', () => {
  it('takes interfaces, optional fields, unions, nulls and arrays, and they survive JSON as they are', () => {
    const status: Record<string, Monitor> = { pg0: { state: 'healthy', lastFailover: { at: 1, from: 'pg0-n0' }, nodes: ['pg0-n0', 'pg0-n1'] } };
    const failover: Feature<Record<string, Monitor>> = { name: 'failover', status: () => status };
    const attached: Feature[] = [failover];
    const sections = Object.fromEntries(attached.map((f) => [f.name, f.status?.()]));
    expect(JSON.parse(JSON.stringify(sections))).toEqual({ failover: status });
  });

  it('refuses what JSON would lose or throw on', () => {
    // @ts-expect-error a Map is written as {}
    const map: Feature<{ holds: Map<string, number> }> = { name: 'm', status: () => ({ holds: new Map<string, number>() }) };
    // @ts-expect-error a function is dropped
    const fn: Feature<{ retry: () => void }> = { name: 'f', status: () => ({ retry: () => undefined }) };
    // @ts-expect-error a bigint throws
    const big: Feature<{ offset: bigint }> = { name: 'b', status: () => ({ offset: 1n }) };
    // @ts-expect-error unknown may be any of these
    const opaque: Feature<{ details: unknown }> = { name: 'u', status: () => ({ details: 1 }) };
    expect([map, fn, big, opaque].map((f) => f.name)).toEqual(['m', 'f', 'b', 'u']);
  });
});
