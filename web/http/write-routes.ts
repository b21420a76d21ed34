// HTTP writes go through Kafka too (contract 3): the command is produced with acks=all; `?wait=applied`
// answers once the shard writer applied it, with a consistency token for read-your-writes.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { CommandLog } from '../../adapters/kafka/port.ts';
import type { AppliedBus } from '../../actors/applied-bus.ts';
import type { RowApplied } from '../../actors/applied-on-primary.ts';
import type { Applied } from '../../actors/shard-writer/messages.ts';
import type { Clock } from '../../lib/clock.ts';
import { validateCommand, type CommandLimits, type TagCommand } from '../../lib/command.ts';
import { ErrorCodes, TagstreamError } from '../../lib/errors.ts';
import { signToken } from '../../lib/token.ts';
import { badRequest } from './errors.ts';

export interface WriteRouteDeps {
  log: CommandLog;
  topic: string;
  limits: CommandLimits;
  applied: AppliedBus;
  tokenSecret: string;
  clock: Clock;
  isDraining: () => boolean;
  /** The cluster an entity lives on when that cluster is held (issue 17), else null. */
  heldCluster?: (entity: string) => string | null;
  /**
   * Several daemons: false when this daemon does not consume `partition` (its applied bus never hears of the
   * command); the write then also watches the primary's row (`rowApplied`).
   */
  consumes?: (partition: number) => boolean;
  rowApplied?: (entity: string, tag: string, offset: string, timeoutMs: number, signal: AbortSignal) => Promise<RowApplied | null>;
}

/** Says which held cluster a write waits for (issue 17). */
export const HELD_HEADER = 'x-tagstream-held';

/** Fastify's reply has header(); the route's narrow reply type does not say so. */
function withHeldHeader<R extends object>(reply: R, cluster: string): R {
  if ('header' in reply && typeof reply.header === 'function') reply.header(HELD_HEADER, cluster);
  return reply;
}

interface Params {
  entity: string;
  tag: string;
}
interface Query {
  wait?: string;
  timeoutMs?: string;
}
interface Body {
  actor?: string;
}

/** What a write accepts: anything else (another type, an unknown field, a repeated parameter) is a 400 naming it. */
export const writeRouteSchema = {
  querystring: {
    type: 'object',
    properties: { wait: { type: 'string', enum: ['none', 'applied'] }, timeoutMs: { type: 'string', pattern: '^[0-9]{1,5}$' } },
    additionalProperties: false,
  },
  body: {
    type: ['object', 'null'],
    properties: { actor: { type: 'string', minLength: 1, maxLength: 128 } },
    additionalProperties: false,
  },
} as const;

export function registerWriteRoutes(app: FastifyInstance, deps: WriteRouteDeps): void {
  const handler = (op: 'attach' | 'detach') => async (req: { params: Params; query: Query; headers: Record<string, unknown>; body?: Body | null }, reply: { code: (n: number) => { send: (b: unknown) => unknown } }) => {
    const { entity, tag } = req.params;
    const wait = req.query.wait ?? 'none';
    const timeoutMs = req.query.timeoutMs === undefined ? 10_000 : Number(req.query.timeoutMs);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) throw badRequest('querystring.timeoutMs: must be an integer between 1 and 60000', 'querystring.timeoutMs');
    const actorHeader = req.headers['x-actor'];
    if (actorHeader !== undefined && typeof actorHeader !== 'string') throw badRequest('headers.x-actor: give it once', 'headers.x-actor');
    const actor = req.body?.actor ?? actorHeader ?? 'http';
    const command: TagCommand = { id: randomUUID(), op, entity, tag, actor, at: deps.clock.now() };
    const value = JSON.stringify(command);
    const v = validateCommand(value, deps.limits, entity);
    if (!v.ok) throw badRequest(v.message);
    if (deps.isDraining()) throw new TagstreamError(ErrorCodes.SHUTTING_DOWN, 'shutting down: this daemon takes no new writes; retry against another instance', { retriable: true });
    if (wait === 'none') {
      const [pos] = await deps.log.produce(deps.topic, [{ key: entity, value }]);
      return reply.code(202).send({ status: 'accepted', commandId: command.id, op, entity, tag, partition: pos!.partition, offset: pos!.offset });
    }
    const release = deps.applied.expect(); // before producing: the application may come before our wait() does
    try {
      const [pos] = await deps.log.produce(deps.topic, [{ key: entity, value }]);
      const accepted = { status: 'accepted', commandId: command.id, op, entity, tag, partition: pos!.partition, offset: pos!.offset };
      // A held cluster applies nothing until it drains: say so at once instead of waiting out the timeout.
      const heldOn = deps.heldCluster?.(entity) ?? null;
      if (heldOn) return withHeldHeader(reply, heldOn).code(202).send({ ...accepted, applied: false, held: heldOn, reason: `cluster ${heldOn} is held (it cannot take writes now): the command is durable in the log and is applied when the hold drains` });
      const a = await appliedAnywhere(deps, entity, tag, pos!.partition, pos!.offset, timeoutMs);
      if (!a) return reply.code(202).send({ ...accepted, applied: false, reason: `not applied within ${timeoutMs} ms; it is durable in the log and will be applied` });
      const token = signToken({ shard: a.shard, lsn: a.commitLsn }, deps.tokenSecret);
      // Seen on the primary's row by a daemon that does not consume the partition: whether the state changed is not known there.
      if (!('changed' in a)) return reply.code(200).send({ ...accepted, status: 'applied', applied: true, shard: a.shard, token, confirmedBy: 'primary-row' });
      return reply.code(200).send({ ...accepted, status: 'applied', applied: true, changed: a.changed, shard: a.shard, token });
    } finally {
      release();
    }
  };
  app.post<{ Params: Params; Querystring: Query; Body: Body | null }>('/v1/entities/:entity/tags/:tag', { schema: writeRouteSchema }, handler('attach') as never);
  app.delete<{ Params: Params; Querystring: Query; Body: Body | null }>('/v1/entities/:entity/tags/:tag', { schema: writeRouteSchema }, handler('detach') as never);
}

/**
 * The applied bus of this daemon; when it does not consume the partition, also the primary's row — whichever
 * says applied first (null when neither does within the timeout).
 */
async function appliedAnywhere(deps: WriteRouteDeps, entity: string, tag: string, partition: number, offset: string, timeoutMs: number): Promise<Applied | RowApplied | null> {
  if (!deps.rowApplied || deps.consumes?.(partition) !== false) return deps.applied.wait(partition, offset, timeoutMs);
  // Whichever answers first stops the other (no waiter or poll outlives the request).
  const stop = new AbortController();
  const local = deps.applied.wait(partition, offset, timeoutMs, stop.signal);
  const remote = deps.rowApplied(entity, tag, offset, timeoutMs, stop.signal);
  try {
    return await new Promise<Applied | RowApplied | null>((resolve) => {
      let pending = 2;
      const settle = (a: Applied | RowApplied | null) => (a ? resolve(a) : --pending === 0 && resolve(null));
      local.then(settle, () => settle(null));
      remote.then(settle, () => settle(null));
    });
  } finally {
    stop.abort();
  }
}
