// The hold board's view of a cluster's failover monitor: a busy machine holds the cluster, and so does a primary
// left without a replica (contract 3: nothing it applies can be proven replicated, so nothing would commit).
import { describe, expect, it } from 'vitest';
import { failoverWritability } from '../../../actors/hold/failover-writability.ts';

const view = (state: string, replicas: string[]) => ({ cluster: 'pg0', state, topology: { primary: 'pg0-n2', replicas } });

describe('failoverWritability', () => {
  it('takes writes when the machine is healthy or suspect and the primary has a replica', () => {
    expect(failoverWritability(view('healthy', ['pg0-n1']))).toEqual({ ok: true });
    expect(failoverWritability(view('suspect', ['pg0-n0', 'pg0-n1']))).toEqual({ ok: true });
    expect(failoverWritability(undefined)).toEqual({ ok: true }); // no failover feature (embedded tests)
  });
  it('holds a cluster whose machine is busy', () => {
    expect(failoverWritability(view('promoting', ['pg0-n1']))).toEqual({ ok: false, reason: 'failover machine: promoting' });
    expect(failoverWritability(view('degraded', []))).toEqual({ ok: false, reason: 'failover machine: degraded' });
  });
  it('holds a primary left without a replica, and says how to give it one', () => {
    const w = failoverWritability(view('healthy', []));
    expect(w.ok).toBe(false);
    expect(w.reason).toMatch(/^no replica: .*pg0-n2.*contract 3.*reseed pg0/);
  });
  it('a stopped monitor says nothing', () => {
    expect(failoverWritability(view('stopped', []))).toEqual({ ok: true });
  });
});
