// One error base with a stable code, a retriable flag and a cause. Codes are documented in docs/errors.md
// (a unit test checks every code here appears there).

export const ErrorCodes = {
  CONFIG_INVALID: 'TS_ERR_CONFIG_INVALID',
  COMMAND_INVALID: 'TS_ERR_COMMAND_INVALID',
  COMMAND_TOO_LARGE: 'TS_ERR_COMMAND_TOO_LARGE',
  COMMAND_UNKNOWN_OP: 'TS_ERR_COMMAND_UNKNOWN_OP',
  TOPOLOGY_CHANGED: 'TS_ERR_TOPOLOGY_CHANGED',
  FENCED: 'TS_ERR_FENCED',
  BREAKER_OPEN: 'TS_ERR_BREAKER_OPEN',
  TIMEOUT: 'TS_ERR_TIMEOUT',
  RETRIES_EXHAUSTED: 'TS_ERR_RETRIES_EXHAUSTED',
  MAILBOX_FULL: 'TS_ERR_MAILBOX_FULL',
  BULKHEAD_FULL: 'TS_ERR_BULKHEAD_FULL',
  ACTOR_STOPPED: 'TS_ERR_ACTOR_STOPPED',
  TOKEN_INVALID: 'TS_ERR_TOKEN_INVALID',
  BAD_REQUEST: 'TS_ERR_BAD_REQUEST',
  UNAUTHORIZED: 'TS_ERR_UNAUTHORIZED',
  SHUTTING_DOWN: 'TS_ERR_SHUTTING_DOWN',
  SERVICE_START: 'TS_ERR_SERVICE_START',
  NOT_FOUND: 'TS_ERR_NOT_FOUND',
  FAULT_INJECTION_OFF: 'TS_ERR_FAULT_INJECTION_OFF',
  ACTION_UNAVAILABLE: 'TS_ERR_ACTION_UNAVAILABLE',
  METHOD_NOT_ALLOWED: 'TS_ERR_METHOD_NOT_ALLOWED',
  PAYLOAD_TOO_LARGE: 'TS_ERR_PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'TS_ERR_UNSUPPORTED_MEDIA_TYPE',
  UNAVAILABLE: 'TS_ERR_UNAVAILABLE',
  INTERNAL: 'TS_ERR_INTERNAL',
  HOLD_HEADERS: 'TS_ERR_HOLD_HEADERS',
  NOT_LEADER: 'TS_ERR_NOT_LEADER',
  NOT_SUPPORTED: 'TS_ERR_NOT_SUPPORTED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class TagstreamError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { retriable?: boolean; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TagstreamError';
    this.code = code;
    this.retriable = opts.retriable ?? false;
    if (opts.details) this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retriable: this.retriable, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Thrown at a writer whose cluster was promoted: rebuild the connection, then carry on (kafkajs' model). */
export class TopologyChangedError extends TagstreamError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.TOPOLOGY_CHANGED, message, { retriable: true, cause });
    this.name = 'TopologyChangedError';
  }
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** How deep a chain of causes is followed when an error is described. */
const MAX_CAUSES = 8;

function causeChain(err: unknown): Array<{ message: string; stack: string }> {
  const chain: Array<{ message: string; stack: string }> = [];
  const seen = new Set<unknown>();
  for (let e = err; e && typeof e === 'object' && !seen.has(e) && chain.length <= MAX_CAUSES; e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const { message, stack } = e as { message?: unknown; stack?: unknown };
    if (typeof message !== 'string') break;
    chain.push({ message, stack: typeof stack === 'string' ? stack : message });
  }
  return chain;
}

/**
 * The message of `err` and of its causes, each said once: a cause whose words its wrapper already says is left
 * out. A BackendError keeps its driver's message and has that driver error as cause, and kafkajs' non-retriable
 * error repeats its cause's message, so joining every message (as pino's error serializer does) says each twice.
 */
export function messageWithCauses(err: unknown): string {
  const chain = causeChain(err);
  if (chain.length === 0) return errorMessage(err);
  let text = chain[0]!.message;
  for (const { message } of chain.slice(1)) if (message && !text.includes(message)) text = text ? `${text}: ${message}` : message;
  return text;
}

/** The stack of `err` and of its causes, a cause whose stack is its wrapper's (a BackendError's) shown once. */
export function stackWithCauses(err: unknown): string {
  const chain = causeChain(err);
  if (chain.length === 0) return errorMessage(err);
  let text = chain[0]!.stack;
  for (let i = 1; i < chain.length; i++) if (chain[i]!.stack !== chain[i - 1]!.stack) text += `\ncaused by: ${chain[i]!.stack}`;
  return text;
}

/** What an adapter decided about a driver's error (lib/classify's Classification, restated to keep lib/errors free of imports). */
export interface BackendVerdict {
  class: 'retry' | 'reroute' | 'poison' | 'fatal';
  /** Where the decision came from, e.g. `pg:40001`, `es:429`, `node:ECONNREFUSED`. */
  source: string;
}

/**
 * A driver's error as its adapter classified it at the boundary: the adapter alone knows SQLSTATEs, errnos,
 * Redis replies, Elasticsearch statuses and kafkajs types; lib/classify reads `class` and `source` only. The
 * driver's own `code` and message stay (logs and callers read them), the driver's error is the `cause`.
 */
export class BackendError extends Error {
  readonly class: BackendVerdict['class'];
  readonly source: string;
  readonly retriable: boolean;
  /** The driver's code (SQLSTATE, errno, …) when it had one. */
  declare readonly code?: string;

  constructor(verdict: BackendVerdict, original: unknown) {
    // Errors come at the rate calls come during an outage: the driver's stack is kept instead of capturing a second.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(errorMessage(original), { cause: original });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'BackendError';
    this.class = verdict.class;
    this.source = verdict.source;
    this.retriable = verdict.class === 'retry' || verdict.class === 'reroute';
    const code = (original as { code?: unknown } | null)?.code;
    if (typeof code === 'string' || typeof code === 'number') (this as { code?: string }).code = String(code);
    const stack = original instanceof Error ? original.stack : undefined;
    if (stack) this.stack = stack;
  }
}

export function isBackendError(err: unknown): err is BackendError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'BackendError' && typeof (err as { source?: unknown }).source === 'string';
}
