import { describe, expect, it } from 'vitest';
import type { NodeProbe } from '../../../adapters/pg/port.ts';
import { promoteOrFinish, refuseIfPrimaryAnswers } from '../../../actors/failover/effects.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { PrimaryAnswersError } from '../../../machines/failover/types.ts';

const control = (probe: NodeProbe) => {
  const asked: string[] = [];
  return { asked, probeNode: async (node: string) => (asked.push(node), { ...probe, name: node }) };
};

describe('refuseIfPrimaryAnswers: the last check before pg_promote', () => {
  it('an old primary that answers writable refuses the promotion', async () => {
    const c = control({ name: '', up: true, role: 'primary', readOnly: false });
    await expect(refuseIfPrimaryAnswers(c, 'n0', 'n1')).rejects.toBeInstanceOf(PrimaryAnswersError);
    await expect(refuseIfPrimaryAnswers(c, 'n0', 'n1')).rejects.toMatchObject({ code: 'TS_PRIMARY_ANSWERS', primary: 'n0' });
    expect(c.asked).toEqual(['n0', 'n0']);
  });

  it('a dead, unreachable, fenced read-only or demoted old primary lets it go on', async () => {
    for (const p of [
      { name: '', up: false, error: 'connect ECONNREFUSED' },
      { name: '', up: false, error: 'timeout exceeded when trying to connect' },
      { name: '', up: true, role: 'primary' as const, readOnly: true },
      { name: '', up: true, role: 'replica' as const },
    ]) await expect(refuseIfPrimaryAnswers(control(p), 'n0', 'n1')).resolves.toBeUndefined();
  });

  it('asks nobody when there is no old primary or it is the candidate itself (an adopted promotion)', async () => {
    const c = control({ name: '', up: true, role: 'primary', readOnly: false });
    await refuseIfPrimaryAnswers(c, '', 'n1');
    await refuseIfPrimaryAnswers(c, 'n1', 'n1');
    expect(c.asked).toEqual([]);
  });
});

describe('promoteOrFinish', () => {
  const nodes = (probes: Record<string, NodeProbe>) => {
    const promoted: string[] = [];
    return { promoted, probeNode: async (n: string) => probes[n] ?? { name: n, up: false, error: 'unknown' }, promote: async (n: string) => void promoted.push(n) };
  };
  const deps = (control: ReturnType<typeof nodes>) => ({ control: control as never, logger: silentLogger(), promoteTimeoutMs: 1_000 });
  const input = { cluster: 'pg0', node: 'n1', oldPrimary: 'n0' };

  it('a candidate promoted already (an earlier leader) is finished even if the old primary answers writable again', async () => {
    const c = nodes({ n1: { name: 'n1', up: true, role: 'primary', readOnly: false }, n0: { name: 'n0', up: true, role: 'primary', readOnly: false } });
    await expect(promoteOrFinish(deps(c), input)).resolves.toBeUndefined();
    expect(c.promoted).toEqual([]);
  });

  it('a replica candidate with the old primary writable: refused, nothing promoted', async () => {
    const c = nodes({ n1: { name: 'n1', up: true, role: 'replica' }, n0: { name: 'n0', up: true, role: 'primary', readOnly: false } });
    await expect(promoteOrFinish(deps(c), input)).rejects.toBeInstanceOf(PrimaryAnswersError);
    expect(c.promoted).toEqual([]);
  });

  it('a replica candidate with the old primary gone: promoted', async () => {
    const c = nodes({ n1: { name: 'n1', up: true, role: 'replica' }, n0: { name: 'n0', up: false, error: 'connect ECONNREFUSED' } });
    await promoteOrFinish(deps(c), input);
    expect(c.promoted).toEqual(['n1']);
  });

  it('opens the promotion\'s session first, then asks the candidate and the old primary at once (not one after the other)', async () => {
    const events: string[] = [];
    const answer: Array<() => void> = [];
    const probes: Record<string, NodeProbe> = { n1: { name: 'n1', up: true, role: 'replica' }, n0: { name: 'n0', up: false, error: 'connect ECONNREFUSED' } };
    const c = {
      prepare: (n: string, ms: number) => void events.push(`prepare ${n} ${ms}`),
      probeNode: (n: string) => {
        events.push(`ask ${n}`);
        return new Promise<NodeProbe>((r) => answer.push(() => r(probes[n]!)));
      },
      promote: async (n: string) => void events.push(`promote ${n}`),
    };
    const done = promoteOrFinish({ control: c as never, logger: silentLogger(), promoteTimeoutMs: 1_000 }, input);
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['prepare n1 1000', 'ask n0', 'ask n1']); // both asked before either answered
    for (const a of answer) a();
    await done;
    expect(events.at(-1)).toBe('promote n1');
  });
});
