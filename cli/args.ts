// A small flag parser for the operator commands: --flag, --key value, --key=value, repeatable keys.
export interface Parsed {
  flags: Set<string>;
  values: Map<string, string[]>;
  positional: string[];
  problems: string[];
}

export function parseArgs(args: string[], spec: { flags: string[]; values: string[] }): Parsed {
  const out: Parsed = { flags: new Set(), values: new Map(), positional: [], problems: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (spec.flags.includes(name)) {
      if (eq !== -1) out.problems.push(`--${name} takes no value`);
      out.flags.add(name);
    } else if (spec.values.includes(name)) {
      const v = eq !== -1 ? a.slice(eq + 1) : args[++i];
      if (v === undefined || (eq === -1 && v.startsWith('--'))) out.problems.push(`--${name} needs a value`);
      else out.values.set(name, [...(out.values.get(name) ?? []), v]);
    } else out.problems.push(`unknown option ${a}`);
  }
  return out;
}

export const last = (p: Parsed, name: string): string | undefined => p.values.get(name)?.at(-1);

export function intOption(p: Parsed, name: string, min: number, max: number): number | undefined {
  const v = last(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    p.problems.push(`--${name}: must be an integer between ${min} and ${max}`);
    return undefined;
  }
  return n;
}
