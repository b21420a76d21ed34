// Strict configuration: a key the schema does not know (in the file, in a TAGSTREAM_* variable or in code
// overrides) is a problem, reported with the closest valid name — a mistyped `batchSize` must not ship the
// default silently. Walks the zod schema's shape; zod itself would only strip such keys.
import { z } from 'zod';

type Json = Record<string, unknown>;

/** TAGSTREAM_* variables that are not settings: read by the loader or by the scripts around the daemon. */
export const NON_SETTING_VARIABLES: readonly string[] = [
  'TAGSTREAM_CONFIG', // the config file's path
  'TAGSTREAM_TEST_CONTINUE', // scripts/test-all.sh: run the integration suites even after a failed step
  'TAGSTREAM_NODE_VERSION', // scripts/install-node.sh: install another Node than .node-version
];

/** The object schema inside optional/default/effects wrappers, or the element/value schema of a container. */
function unwrap(s: z.ZodTypeAny): z.ZodTypeAny {
  let cur = s;
  for (;;) {
    if (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) cur = cur.unwrap();
    else if (cur instanceof z.ZodDefault) cur = cur._def.innerType;
    else if (cur instanceof z.ZodEffects) cur = cur.innerType();
    else return cur;
  }
}

export interface UnknownKey {
  /** Path of the unknown key, e.g. ['writer', 'batchsize']. */
  path: (string | number)[];
  /** The same path with the closest valid key in place of the unknown one (absent when none is close). */
  suggestion?: (string | number)[];
  /** Every valid key at that place. */
  valid: string[];
}

/** Every key of `value` that `schema` does not define, at any depth (array elements and record values too). */
export function unknownKeys(schema: z.ZodTypeAny, value: unknown, path: (string | number)[] = []): UnknownKey[] {
  const s = unwrap(schema);
  const out: UnknownKey[] = [];
  if (s instanceof z.ZodObject && isPlain(value)) {
    const shape = s.shape as Record<string, z.ZodTypeAny>;
    const valid = Object.keys(shape);
    for (const [k, v] of Object.entries(value)) {
      const child = shape[k];
      if (child) {
        out.push(...unknownKeys(child, v, [...path, k]));
        continue;
      }
      const near = closest(k, valid);
      out.push({ path: [...path, k], ...(near ? { suggestion: [...path, near] } : {}), valid });
    }
  } else if (s instanceof z.ZodArray && Array.isArray(value)) {
    value.forEach((v, i) => out.push(...unknownKeys(s.element as z.ZodTypeAny, v, [...path, i])));
  } else if (s instanceof z.ZodRecord && isPlain(value)) {
    for (const [k, v] of Object.entries(value)) out.push(...unknownKeys(s.valueSchema as z.ZodTypeAny, v, [...path, k]));
  }
  return out;
}

/** "writer.batchsize: unknown key; did you mean writer.batchSize?" */
export function describeUnknownKey(u: UnknownKey): string {
  const at = u.path.join('.');
  if (u.suggestion) return `${at}: unknown key; did you mean ${u.suggestion.join('.')}?`;
  return `${at}: unknown key; valid keys here: ${u.valid.join(', ')}`;
}

/** camelCase path → the variable that sets it: ['writer', 'batchSize'] → TAGSTREAM_WRITER__BATCH_SIZE. */
export function variableFor(path: (string | number)[]): string {
  return `TAGSTREAM_${path.map((seg) => String(seg).replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`;
}

/** An unknown key that came from a variable, named by that variable (the operator typed the variable). */
export function describeUnknownVariable(variable: string, u: UnknownKey, variablePath: (string | number)[]): string {
  // The variable may set a whole object (JSON); the unknown key can lie below the variable's own path.
  const below = u.path.slice(variablePath.length);
  const head = `${variable}: unknown setting ${u.path.join('.')}`;
  if (!u.suggestion) return `${head}; valid keys here: ${u.valid.join(', ')}`;
  if (below.length === 0) return `${head}; did you mean ${variableFor(u.suggestion)} (${u.suggestion.join('.')})?`;
  return `${head}; did you mean ${u.suggestion.join('.')}?`;
}

/** The closest of `candidates` to `key`, if it is close enough to be a typo (case differences count as none). */
export function closest(key: string, candidates: string[]): string | undefined {
  const k = key.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(k, c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  const limit = Math.max(2, Math.floor(key.length / 3));
  return best !== undefined && bestD <= limit ? best : undefined;
}

/** Damerau–Levenshtein (optimal string alignment): a swapped pair of letters ("kafak") is one edit. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

function isPlain(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
