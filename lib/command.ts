// The tag command: the only thing producers send. Validated at the edge; an invalid one becomes a
// DeadLetter reason (never an exception that escapes the consumer).
import { z } from 'zod';
import { ErrorCodes, type ErrorCode } from './errors.ts';

export const ENTITY_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;
export const TAG_RE = /^[\p{L}\p{N}][\p{L}\p{N} _.-]*$/u;

export interface CommandLimits {
  maxBytes: number;
  maxTagLength: number;
  maxEntityLength: number;
}

export const defaultLimits: CommandLimits = { maxBytes: 4096, maxTagLength: 64, maxEntityLength: 128 };

export function commandSchema(limits: CommandLimits) {
  return z
    .object({
      id: z.string().min(1).max(128),
      op: z.enum(['attach', 'detach']),
      entity: z.string().min(1).max(limits.maxEntityLength).regex(ENTITY_RE, 'letters, digits and _ . : / - only'),
      tag: z.string().min(1).max(limits.maxTagLength).regex(TAG_RE, 'letters, digits, space, _ . - only, starting with a letter or digit'),
      actor: z.string().min(1).max(128),
      at: z.union([z.number().int().nonnegative(), z.string().datetime({ offset: true })]),
    })
    .strict();
}

export type TagCommand = z.infer<ReturnType<typeof commandSchema>>;

// Building a zod schema costs far more than using one (~25 µs against ~3 µs): one per limits, reused.
const schemas = new Map<string, ReturnType<typeof commandSchema>>();
function cachedSchema(limits: CommandLimits): ReturnType<typeof commandSchema> {
  const key = `${limits.maxEntityLength}:${limits.maxTagLength}`;
  let s = schemas.get(key);
  if (!s) schemas.set(key, (s = commandSchema(limits)));
  return s;
}

/** A command with its position in the log: (partition, offset) orders it among the entity's commands. */
export interface PositionedCommand extends TagCommand {
  partition: number;
  offset: string;
}

export type ValidationResult = { ok: true; command: TagCommand } | { ok: false; code: ErrorCode; message: string };

export function validateCommand(raw: string | Buffer | null, limits: CommandLimits = defaultLimits, key?: string | null): ValidationResult {
  if (raw === null) return { ok: false, code: ErrorCodes.COMMAND_INVALID, message: 'empty message value' };
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (bytes > limits.maxBytes) return { ok: false, code: ErrorCodes.COMMAND_TOO_LARGE, message: `command is ${bytes} bytes; the limit is ${limits.maxBytes}` };
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    return { ok: false, code: ErrorCodes.COMMAND_INVALID, message: `not JSON: ${(err as Error).message}` };
  }
  if (json && typeof json === 'object' && 'op' in json && typeof json.op === 'string' && !['attach', 'detach'].includes(json.op)) {
    return { ok: false, code: ErrorCodes.COMMAND_UNKNOWN_OP, message: `unknown op "${json.op.slice(0, 32)}": expected attach or detach` };
  }
  const fast = plainCommand(json, limits);
  if (fast) {
    if (key != null && key !== fast.entity) return { ok: false, code: ErrorCodes.COMMAND_INVALID, message: `message key "${key.slice(0, 64)}" differs from entity "${fast.entity}": per-entity ordering needs key = entity` };
    return { ok: true, command: fast };
  }
  const parsed = cachedSchema(limits).safeParse(json);
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { ok: false, code: ErrorCodes.COMMAND_INVALID, message };
  }
  if (key != null && key !== parsed.data.entity) {
    return { ok: false, code: ErrorCodes.COMMAND_INVALID, message: `message key "${key.slice(0, 64)}" differs from entity "${parsed.data.entity}": per-entity ordering needs key = entity` };
  }
  return { ok: true, command: parsed.data };
}

const FIELDS = new Set(['id', 'op', 'entity', 'tag', 'actor', 'at']);
const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max;

/**
 * The common case without zod (every consumer validates every record; zod costs ~10× more): a command that is
 * plainly valid under the schema — numeric `at`, no extra field. Anything else (invalid, or an ISO `at`) is
 * left to the schema, which decides and words the reason.
 */
function plainCommand(json: unknown, limits: CommandLimits): TagCommand | null {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
  const o = json as Record<string, unknown>;
  let n = 0;
  for (const k in o) {
    if (!FIELDS.has(k)) return null;
    n++;
  }
  if (n !== FIELDS.size) return null;
  const { id, op, entity, tag, actor, at } = o;
  if (!str(id, 128) || (op !== 'attach' && op !== 'detach') || !str(actor, 128)) return null;
  if (!str(entity, limits.maxEntityLength) || !ENTITY_RE.test(entity)) return null;
  if (!str(tag, limits.maxTagLength) || !TAG_RE.test(tag)) return null;
  if (typeof at !== 'number' || !Number.isInteger(at) || at < 0) return null;
  return { id, op, entity, tag, actor, at };
}

/** Milliseconds since the epoch of the command's `at`. */
export function commandTime(c: TagCommand): number {
  return typeof c.at === 'number' ? c.at : Date.parse(c.at);
}

/** FNV-1a: stable, fast, the same in every process. Maps an entity onto a logical shard. */
export function shardOf(entity: string, shardCount: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < entity.length; i++) {
    h ^= entity.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shardCount;
}

/** Search document id of one association: entity and tag cannot contain '|'. */
export function docId(entity: string, tag: string): string {
  return `${entity}|${tag}`;
}
