// The OpenAPI 3.1 description of the daemon's HTTP API, served at GET /openapi.json: writes, reads and
// operations here, the other slices' routes in openapi-other-paths.ts. A unit test starts the daemon with every
// feature and checks that each registered route is documented and each documented one registered. A feature
// may also add or replace path items at run time with `addPaths` (the document is built per request).
import type { FastifyInstance } from 'fastify';
import { otherPaths, searchSchemas } from './openapi-other-paths.ts';
import { FEATURES_LIMITED_HEADER, SOURCE_HEADER, TOKEN_HEADER } from './read-routes.ts';

type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string, headers?: Json) => ({ description, ...(headers ? { headers } : {}), content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);
const entityParam = { name: 'entity', in: 'path', required: true, description: 'Entity id: letters, digits and _ . : / - (starting with a letter or digit), at most commands.maxEntityLength characters', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$' } };
const tagParam = { name: 'tag', in: 'path', required: true, description: 'Tag: letters, digits, space, _ . - (starting with a letter or digit), at most commands.maxTagLength characters', schema: { type: 'string' } };

function writeOperation(op: 'attach' | 'detach'): Json {
  return {
    operationId: `${op}Tag`,
    summary: op === 'attach' ? 'Attach a tag to an entity' : 'Detach a tag from an entity',
    description:
      'The command is produced to the tag-commands topic (acks=all) and applied by the shard writer. With `wait=applied` the answer comes once it is applied on the primary, with a consistency token for read-your-writes.',
    tags: ['writes'],
    parameters: [
      entityParam,
      tagParam,
      { name: 'wait', in: 'query', schema: { type: 'string', enum: ['none', 'applied'], default: 'none' } },
      { name: 'timeoutMs', in: 'query', description: 'How long `wait=applied` waits', schema: { type: 'integer', minimum: 1, maximum: 60000, default: 10000 } },
      { name: 'x-actor', in: 'header', description: 'Who is acting (recorded in the command)', schema: { type: 'string', maxLength: 128 } },
    ],
    requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { actor: { type: 'string', minLength: 1, maxLength: 128 } }, additionalProperties: false } } } },
    responses: {
      200: json(ref('WriteApplied'), 'Applied on the primary; `token` makes the next read see it'),
      202: json(ref('WriteAccepted'), 'Durable in the log; applied asynchronously (or not within timeoutMs)'),
      400: error('Invalid entity, tag or parameter, or a body/query that does not match the schema (a wrong type, an unknown field); `field` names it (TS_ERR_BAD_REQUEST)'),
      413: error('Body larger than the limit (TS_ERR_PAYLOAD_TOO_LARGE)'),
      415: error('Body not application/json (TS_ERR_UNSUPPORTED_MEDIA_TYPE)'),
      503: error('Shutting down, or the log is unavailable (with Retry-After)'),
    },
  };
}

const schemas: Json = {
  Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string', example: 'TS_ERR_BAD_REQUEST' }, message: { type: 'string' }, field: { type: 'string', description: 'The request field that failed validation (400)', example: 'body.actor' }, errorId: { type: 'string', description: 'An unexpected error (500): the same id is in the daemon log line' } } } } },
  WriteAccepted: {
    type: 'object',
    required: ['status', 'commandId', 'op', 'entity', 'tag', 'partition', 'offset'],
    properties: { status: { const: 'accepted' }, commandId: { type: 'string' }, op: { enum: ['attach', 'detach'] }, entity: { type: 'string' }, tag: { type: 'string' }, partition: { type: 'integer' }, offset: { type: 'string' }, applied: { type: 'boolean' }, reason: { type: 'string' } },
  },
  WriteApplied: {
    allOf: [
      ref('WriteAccepted'),
      {
        type: 'object',
        required: ['applied', 'shard', 'token'],
        properties: { status: { const: 'applied' }, applied: { const: true }, changed: { type: 'boolean', description: 'The association really changed state (absent when confirmedBy is "primary-row": not known there)' }, confirmedBy: { const: 'primary-row', description: 'Several daemons: the daemon asked does not consume the entity\'s partition, so it saw the command (or a later one) in the row on the primary' }, shard: { type: 'integer' }, token: { type: 'string', description: 'Consistency token: shard + commit LSN, HMAC-signed. Pass it to reads.' } },
      },
    ],
  },
  EntityTags: {
    type: 'object',
    required: ['entity', 'shard', 'tags', 'source', 'servedBy', 'consistency'],
    properties: {
      entity: { type: 'string' },
      shard: { type: 'integer' },
      tags: { type: 'array', items: { type: 'string' } },
      source: { enum: ['cache', 'replica', 'primary'] },
      servedBy: { type: 'string', description: 'The Redis instance or PostgreSQL node that answered' },
      consistency: { enum: ['none', 'token', 'token-other-cluster', 'held', 'stale'], description: '`token`: the answer includes every write up to the token; `token-other-cluster`: the token is for a shard on another cluster and says nothing about this entity; `held`: the entity\'s cluster is held (it could not take writes), so accepted writes may still wait in its hold topic and the answer may be behind them; `stale`: no node of the entity\'s cluster answered, so this is the cache\'s last-known entry (it may miss applied writes, and the token is not honoured; the x-tagstream-features-limited header says database-unavailable)' },
      lsn: { type: 'string', description: 'The answer reflects at least this WAL position of the entity’s cluster' },
    },
  },
  PopularTags: {
    type: 'object',
    required: ['limit', 'tags', 'source', 'featuresLimited'],
    properties: {
      limit: { type: 'integer' },
      tags: { type: 'array', items: { type: 'object', required: ['tag', 'count'], properties: { tag: { type: 'string' }, count: { type: 'integer' } } } },
      source: { enum: ['cache', 'database', 'last-known-good', 'none'] },
      featuresLimited: { type: 'boolean', description: 'true: degraded answer (stale or empty); the reason says why' },
      reason: { enum: ['cache-unavailable', 'database-breaker-open', 'overloaded', 'database-unavailable'] },
      asOf: { type: 'string', format: 'date-time', description: 'When the list was computed from the databases' },
    },
  },
};

export function openApiDocument(extraPaths: Json = {}): Json {
  const sourceHeader = { [SOURCE_HEADER]: { description: 'Where the answer came from', schema: { type: 'string' } } };
  return {
    openapi: '3.1.0',
    info: {
      title: 'tagstream',
      version: '0.1.0',
      description:
        'Tag associations on sharded PostgreSQL behind Redis cache shards. Writes go through Kafka; reads are read-your-writes with a consistency token; popular tags degrade instead of failing. Errors are `{error:{code,message}}`; codes are listed in docs/errors.md.',
    },
    servers: [{ url: '/' }],
    tags: [{ name: 'writes' }, { name: 'reads' }, { name: 'search' }, { name: 'operations' }, { name: 'operator', description: 'Needs Authorization: Bearer <http.adminToken>' }, { name: 'dashboard' }],
    paths: {
      '/v1/entities/{entity}/tags/{tag}': { post: writeOperation('attach'), delete: writeOperation('detach') },
      '/v1/entities/{entity}/tags': {
        get: {
          operationId: 'entityTags',
          summary: "An entity's tags (critical, read-your-writes)",
          description:
            'Without a token: any healthy replica (or the cache). With a token from a write: an answer that includes that write — from the cache if its entry is recent enough, else a replica whose replay LSN has reached the token, else the primary. Keeps answering from the databases (within a bounded concurrency) when Redis is down.',
          tags: ['reads'],
          parameters: [
            entityParam,
            { name: 'token', in: 'query', description: 'Consistency token returned by a write', schema: { type: 'string', maxLength: 256 } },
            { name: TOKEN_HEADER, in: 'header', description: 'Same as the token query parameter', schema: { type: 'string', maxLength: 256 } },
          ],
          responses: {
            200: json(ref('EntityTags'), 'The tags', sourceHeader),
            400: error('Invalid entity, or a malformed, tampered or foreign token (TS_ERR_TOKEN_INVALID)'),
            503: error('The databases cannot serve it now, with Retry-After: TS_ERR_BULKHEAD_FULL (overloaded), TS_ERR_UNAVAILABLE (no node of the entity\'s cluster answers and the cache knows nothing of it)'),
          },
        },
      },
      '/v1/tags/popular': {
        get: {
          operationId: 'popularTags',
          summary: 'Most used tags (non-critical, degradable)',
          description: `Never an error while degraded: a stale (last-known-good) or empty list with featuresLimited=true and the ${FEATURES_LIMITED_HEADER} header.`,
          tags: ['reads'],
          parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 }, description: 'At most reads.popularMaxLimit' }],
          responses: {
            200: json(ref('PopularTags'), 'The list, possibly degraded', { ...sourceHeader, [FEATURES_LIMITED_HEADER]: { description: 'Present on degraded answers: the reason', schema: { type: 'string' } } }),
            400: error('Invalid limit'),
          },
        },
      },
      '/healthz': { get: { operationId: 'health', summary: 'Alive', tags: ['operations'], responses: { 200: json({ type: 'object', properties: { status: { const: 'alive' } } }, 'Alive') } } },
      '/readyz': {
        get: {
          operationId: 'ready',
          summary: 'Ready to take traffic',
          tags: ['operations'],
          responses: { 200: json(ref('Readiness'), 'Ready'), 503: json(ref('Readiness'), 'Not ready: every reason') },
        },
      },
      '/status': { get: { operationId: 'status', summary: 'Supervision tree, offsets, topology, and each feature’s status (reads: cache shards, epochs, breakers, bulkheads)', tags: ['operations'], responses: { 200: json({ type: 'object' }, 'Status') } } },
      '/metrics': { get: { operationId: 'metrics', summary: 'Prometheus metrics (tagstream_*)', tags: ['operations'], responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/openapi.json': { get: { operationId: 'openapi', summary: 'This document', tags: ['operations'], responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') } } },
      ...otherPaths,
      ...extraPaths,
    },
    components: {
      schemas: { ...schemas, ...searchSchemas, Readiness: { type: 'object', required: ['ready', 'reasons'], properties: { ready: { type: 'boolean' }, reasons: { type: 'array', items: { type: 'string' } } } } },
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'http.adminToken: operator actions' } },
    },
  };
}

export interface OpenApiRegistry {
  /** Adds (or replaces) path items; they appear in the next GET /openapi.json. */
  addPaths(paths: Json): void;
}

export function registerOpenApiRoute(app: FastifyInstance): OpenApiRegistry {
  const extra: Json = {};
  app.get('/openapi.json', async () => openApiDocument(extra));
  return { addPaths: (paths) => void Object.assign(extra, paths) };
}
