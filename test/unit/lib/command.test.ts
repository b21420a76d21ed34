import { describe, expect, it } from 'vitest';
import { shardOf, validateCommand } from '../../../lib/command.ts';

const good = { id: 'c1', op: 'attach', entity: 'bug-123', tag: 'Critical', actor: 'alice', at: 1_700_000_000_000 };

describe('validateCommand', () => {
  it('accepts a well-formed command', () => {
    const r = validateCommand(JSON.stringify(good), undefined, 'bug-123');
    expect(r.ok).toBe(true);
  });

  it.each([
    ['not JSON', '{oops', 'TS_ERR_COMMAND_INVALID'],
    ['unknown op', JSON.stringify({ ...good, op: 'explode' }), 'TS_ERR_COMMAND_UNKNOWN_OP'],
    ['missing field', JSON.stringify({ ...good, tag: undefined }), 'TS_ERR_COMMAND_INVALID'],
    ['extra field', JSON.stringify({ ...good, sql: 'drop table' }), 'TS_ERR_COMMAND_INVALID'],
    ['bad tag charset', JSON.stringify({ ...good, tag: '<script>' }), 'TS_ERR_COMMAND_INVALID'],
    ['tag too long', JSON.stringify({ ...good, tag: 'x'.repeat(65) }), 'TS_ERR_COMMAND_INVALID'],
    ['pipe in entity', JSON.stringify({ ...good, entity: 'a|b' }), 'TS_ERR_COMMAND_INVALID'],
    ['oversized', JSON.stringify({ ...good, actor: 'a'.repeat(5_000) }), 'TS_ERR_COMMAND_TOO_LARGE'],
    ['array body', '[]', 'TS_ERR_COMMAND_INVALID'],
    ['null body', 'null', 'TS_ERR_COMMAND_INVALID'],
  ])('rejects %s with a machine-readable code', (_n, raw, code) => {
    const r = validateCommand(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.message.length).toBeGreaterThan(0);
    }
  });

  it('rejects a key that differs from the entity (it would break per-entity ordering)', () => {
    const r = validateCommand(JSON.stringify(good), undefined, 'bug-999');
    expect(r).toMatchObject({ ok: false, code: 'TS_ERR_COMMAND_INVALID' });
  });

  it('rejects an empty value', () => {
    expect(validateCommand(null)).toMatchObject({ ok: false });
  });
});

describe('shardOf', () => {
  it('is stable and spreads entities over all shards', () => {
    expect(shardOf('bug-123', 64)).toBe(shardOf('bug-123', 64));
    const seen = new Set<number>();
    for (let i = 0; i < 5_000; i++) seen.add(shardOf(`bug-${i}`, 64));
    expect(seen.size).toBe(64);
  });
});
