import { describe, expect, it } from 'vitest';
import { isolateChild, restartWithBackoff, resumeOnPoison } from '../../../actors/runtime/policy.ts';
import { ErrorCodes, TagstreamError } from '../../../lib/errors.ts';

const backoff = { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 };
const policy = restartWithBackoff({ backoff, maxRestarts: 3, withinMs: 10_000, random: () => 0.5 });
const ctx = (now: number, restarts: number[]) => ({ path: '/a', now, restarts });

describe('restartWithBackoff', () => {
  it.each([
    ['first crash', [], { kind: 'restart', delayMs: 100 }],
    ['second crash within the window', [1_000], { kind: 'restart', delayMs: 200 }],
    ['third crash within the window', [1_000, 2_000], { kind: 'restart', delayMs: 400 }],
    ['fourth crash within the window: a storm, escalate', [1_000, 2_000, 3_000], { kind: 'escalate' }],
    ['old restarts fall out of the window', [-20_000, -15_000, 3_000], { kind: 'restart', delayMs: 200 }],
  ])('%s', (_n, restarts, expected) => {
    expect(policy(undefined, new Error('x'), ctx(5_000, restarts))).toEqual(expected);
  });

  it('caps the delay', () => {
    const p = restartWithBackoff({ backoff, maxRestarts: 100, withinMs: 1e9, random: () => 0.5 });
    expect(p(undefined, new Error('x'), ctx(0, Array(20).fill(0)))).toEqual({ kind: 'restart', delayMs: 1_000 });
  });
});

describe('resumeOnPoison', () => {
  const p = resumeOnPoison(policy);
  it('drops a poison message and resumes', () => {
    expect(p(undefined, new TagstreamError(ErrorCodes.COMMAND_INVALID, 'bad'), ctx(0, []))).toEqual({ kind: 'resume' });
  });
  it('restarts on anything else', () => {
    expect(p(undefined, new Error('bug'), ctx(0, []))).toMatchObject({ kind: 'restart' });
  });
});

describe('isolateChild', () => {
  const child = isolateChild({ coolDownMs: 30_000, maxEscalations: 2, withinMs: 600_000 });
  it.each([
    ['first storm: park for the cool-down', [], { kind: 'restart', delayMs: 30_000 }],
    ['second storm', [1], { kind: 'restart', delayMs: 30_000 }],
    ['third storm: stop this child, never its siblings', [1, 2], { kind: 'stop' }],
  ])('%s', (_n, escalations, expected) => {
    expect(child('/shards/s1', new Error('x'), ctx(1_000, escalations))).toEqual(expected);
  });
  it('can escalate further when configured to', () => {
    const c = isolateChild({ coolDownMs: 1, maxEscalations: 0, withinMs: 1, escalateWhenExhausted: true });
    expect(c('/x', new Error('x'), ctx(0, []))).toEqual({ kind: 'escalate' });
  });
});
