// validateCommand takes a fast path without zod for plainly valid commands: it must agree with the schema on
// every input — accept exactly what the schema accepts, with the same command.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandSchema, defaultLimits, validateCommand } from '../../../lib/command.ts';

const schema = commandSchema(defaultLimits);
const mostly = <T>(valid: fc.Arbitrary<T>, ...invalid: Array<fc.Arbitrary<unknown>>) => fc.oneof({ arbitrary: valid as fc.Arbitrary<unknown>, weight: 6 * invalid.length }, ...invalid.map((arbitrary) => ({ arbitrary, weight: 1 })));
const sometimes = <T>(a: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: a, weight: 1 });
const field = {
  id: mostly(fc.string({ minLength: 1, maxLength: 128 }), fc.string({ minLength: 129, maxLength: 140 }), fc.integer(), fc.constant('')),
  op: mostly(fc.constantFrom('attach', 'detach'), fc.string({ maxLength: 8 })),
  entity: mostly(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,140}$/), fc.string({ maxLength: 10 }), fc.constant('')),
  tag: mostly(fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9 _.-]{0,70}$/), fc.string({ maxLength: 10 }), fc.constant('Crítico ünïcode'), fc.constant('x'.repeat(65))),
  actor: mostly(fc.string({ minLength: 1, maxLength: 130 }), fc.constant(''), fc.boolean()),
  at: mostly(fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.integer({ min: -5, max: -1 }), fc.double(), fc.constant('2026-11-24T21:00:00Z'), fc.constant('2026-11-24T21:00:00+02:00'), fc.constant('yesterday')),
};
// Mostly complete commands (so that many are valid), sometimes with a field missing or one too many.
const command = fc.tuple(fc.record(field), sometimes(fc.constantFrom('id', 'op', 'entity', 'tag', 'actor', 'at')), sometimes(fc.string())).map(([c, drop, extra]) => {
  const o: Record<string, unknown> = { ...c };
  if (drop) delete o[drop];
  if (extra !== undefined) o.extra = extra;
  return o;
});

describe('validateCommand fast path', () => {
  it('agrees with the zod schema on every input', () => {
    let valid = 0;
    fc.assert(
      fc.property(command, fc.boolean(), (obj, keyed) => {
        const raw = JSON.stringify(obj);
        const key = keyed && typeof obj.entity === 'string' ? obj.entity : null;
        const got = validateCommand(raw, defaultLimits, key);
        const want = schema.safeParse(JSON.parse(raw));
        expect(got.ok).toBe(want.success);
        if (got.ok && want.success) {
          valid++;
          expect(got.command).toEqual(want.data);
        }
      }),
      { numRuns: 3_000 },
    );
    expect(valid).toBeGreaterThan(100);
  });
});
