// Builds the effective config: profile defaults ← config file (TAGSTREAM_CONFIG) ← TAGSTREAM_* env ← overrides.
// The only reader of process.env. Throws one ConfigError listing every problem.
import { readFileSync } from 'node:fs';
import { ErrorCodes, TagstreamError } from '../lib/errors.ts';
import { common, profileDefaults, type Profile } from './profiles.ts';
import { crossChecks } from './checks.ts';
import { configSchema, type Config } from './schema.ts';
import { describeUnknownKey, describeUnknownVariable, NON_SETTING_VARIABLES, unknownKeys } from './unknown-keys.ts';

type Json = Record<string, unknown>;

export class ConfigError extends TagstreamError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(ErrorCodes.CONFIG_INVALID, `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { details: { problems } });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  overrides?: Json;
}

const PROFILES: Profile[] = ['embedded', 'local', 'production'];

export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const problems: string[] = [];

  let file: Json = {};
  const filePath = env.TAGSTREAM_CONFIG;
  if (filePath) {
    try {
      file = JSON.parse(readFileSync(filePath, 'utf8')) as Json;
    } catch (err) {
      problems.push(`TAGSTREAM_CONFIG (${filePath}): ${(err as Error).message}`);
    }
  }
  const variables: EnvSetting[] = [];
  const fromEnv = envOverrides(env, problems, variables);
  // Strict: a key nobody reads is a typo until proven otherwise (file, variables and code overrides alike).
  for (const u of unknownKeys(configSchema, file)) problems.push(describeUnknownKey(u));
  for (const v of variables) {
    for (const u of unknownKeys(configSchema, nest(v.path, v.value))) problems.push(describeUnknownVariable(v.variable, u, v.path));
  }
  for (const u of unknownKeys(configSchema, opts.overrides ?? {})) problems.push(describeUnknownKey(u));
  const requested = (opts.overrides?.profile ?? fromEnv.profile ?? file.profile ?? 'embedded') as string;
  const profile: Profile = PROFILES.includes(requested as Profile) ? (requested as Profile) : 'embedded';
  if (!PROFILES.includes(requested as Profile)) problems.push(`profile: must be one of ${PROFILES.join(', ')} (got "${requested}")`);

  // The layout of local services can itself be overridden; resolve it before the profile defaults use it.
  const pre = deepMerge(deepMerge(deepMerge(structuredClone(common), file), fromEnv), opts.overrides ?? {});
  const layout = pre.services as never;
  const merged = deepMerge(deepMerge(deepMerge(deepMerge(structuredClone(common), profileDefaults(profile, layout)), file), fromEnv), opts.overrides ?? {});
  merged.profile = profile;

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  problems.push(...crossChecks(merged));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return deepFreeze(parsed.data);
}

/** One TAGSTREAM_* variable and the setting it names. */
export interface EnvSetting {
  variable: string;
  path: string[];
  value: unknown;
}

function nest(path: string[], value: unknown): Json {
  return path.reduceRight<unknown>((inner, seg) => ({ [seg]: inner }), value) as Json;
}

/**
 * TAGSTREAM_HTTP__ADMIN_TOKEN=x → { http: { adminToken: 'x' } }. Values are JSON when they parse as JSON.
 * `settings` receives each variable with its path, so that an unknown one can be reported by its own name.
 */
export function envOverrides(env: Record<string, string | undefined>, problems: string[] = [], settings: EnvSetting[] = []): Json {
  const out: Json = {};
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith('TAGSTREAM_') || raw === undefined || NON_SETTING_VARIABLES.includes(key)) continue;
    const segments = key.slice('TAGSTREAM_'.length).split('__').map(camel);
    if (segments.some((s) => s.length === 0)) {
      problems.push(`${key}: malformed variable name`);
      continue;
    }
    let value: unknown = raw;
    if (/^[[{0-9"-]|^(true|false|null)$/.test(raw)) {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
    }
    settings.push({ variable: key, path: segments, value });
    let node = out;
    for (const seg of segments.slice(0, -1)) node = (node[seg] ??= {}) as Json;
    node[segments[segments.length - 1]!] = value;
  }
  return out;
}

function camel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function isPlain(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isPlain(v) && isPlain(out[k]) ? deepMerge(out[k] as Json, v) : v;
  return out;
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

const SECRET_KEYS = /password|secret|token/i;

/** The effective config with secrets masked, for `tagstream config check` and the dashboard. */
export function maskSecrets(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => maskSecrets(x));
  if (isPlain(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskSecrets(x, k)]));
  if (typeof v === 'string' && SECRET_KEYS.test(key)) return '***';
  return v;
}
