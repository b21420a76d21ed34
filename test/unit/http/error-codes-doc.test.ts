// docs/errors.md lists every code with the HTTP status it answers: checked against lib/errors.ts and
// web/http/errors.ts both ways, and against every TS_ERR_* literal in the source.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, type ErrorCode } from '../../../lib/errors.ts';
import { HTTP_STATUS, httpStatusOf } from '../../../web/http/errors.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const rows = new Map(
  [...readFileSync(path.join(root, 'docs/errors.md'), 'utf8').matchAll(/^\| `(TS_ERR_[A-Z0-9_]+)` \| (\d{3}|—) \|/gm)].map((m) => [m[1]!, m[2] === '—' ? undefined : Number(m[2])]),
);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return ['node_modules', 'test', 'dist', '.cache', '.run', '.git', '.scratch', 'artifacts'].includes(name) ? [] : sourceFiles(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

describe('docs/errors.md', () => {
  it('has a row for every code, and no row for a code that does not exist', () => {
    const codes = Object.values(ErrorCodes) as string[];
    expect(codes.filter((c) => !rows.has(c))).toEqual([]);
    expect([...rows.keys()].filter((c) => !codes.includes(c))).toEqual([]);
  });

  it("gives each code the HTTP status it answers with", () => {
    for (const [code, status] of rows) {
      if (status === undefined) expect(HTTP_STATUS[code as ErrorCode], code).toBeUndefined();
      else expect(httpStatusOf(code as ErrorCode), code).toBe(status);
    }
  });

  it('every TS_ERR_* code the source uses is one of ErrorCodes', () => {
    const codes = new Set<string>(Object.values(ErrorCodes));
    const used = new Set(sourceFiles(root).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/'(TS_ERR_[A-Z0-9_]*[A-Z0-9])'/g)].map((m) => m[1]!)));
    expect([...used].filter((c) => !codes.has(c))).toEqual([]);
  });
});
