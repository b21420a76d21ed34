// OpenAPI path items of the routes other slices register: search and analytics (features/indexing), the
// operator routes (features/indexing, features/dashboard) and the dashboard itself. Kept beside the reads'
// description so that /openapi.json covers every route; a unit test fails when a registered route is missing.
type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);
const admin = [{ adminToken: [] }];
const adminErrors = { 401: error('Missing or wrong `Authorization: Bearer <http.adminToken>` (TS_ERR_UNAUTHORIZED)') };
const body = (properties: Json) => ({ required: false, content: { 'application/json': { schema: { type: 'object', properties } } } });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const anyObject = { type: 'object', additionalProperties: true };

function op(operationId: string, summary: string, tag: string, extra: Json = {}, responses: Json = { 200: json(anyObject, 'OK') }): Json {
  return { operationId, summary, tags: [tag], ...extra, responses };
}

export const searchSchemas: Json = {
  Freshness: {
    type: 'object',
    description: 'How fresh the search index is: the indexer consumer group’s lag and the write→indexed/searchable latencies',
    properties: {
      asOf: { type: 'integer', description: 'ms since epoch' },
      group: { type: 'string' },
      lag: { type: ['integer', 'null'], description: 'Commands in Kafka not yet indexed, all partitions' },
      partitions: { type: 'object', additionalProperties: { type: 'object', properties: { committed: { type: ['string', 'null'] }, end: { type: 'string' }, lag: { type: 'integer' } } } },
      lastCommandAt: { type: ['integer', 'null'] },
      lastCommandAgeMs: { type: ['integer', 'null'] },
      writeToIndexedMs: { type: 'object', properties: { p50: { type: ['number', 'null'] }, p99: { type: ['number', 'null'] } } },
      writeToSearchableMs: { type: 'object', properties: { p50: { type: ['number', 'null'] }, p99: { type: ['number', 'null'] } } },
    },
    additionalProperties: true,
  },
  SearchResult: {
    type: 'object',
    description: 'Eventually consistent: the index follows the log asynchronously; `freshness` says how far behind it is.',
    required: ['tag', 'total', 'hits', 'freshness'],
    properties: {
      tag: { type: 'string' },
      total: { type: 'integer' },
      hits: { type: 'array', items: { type: 'object', required: ['entity', 'tag'], properties: { entity: { type: 'string' }, tag: { type: 'string' } } } },
      freshness: ref('Freshness'),
    },
  },
};

export const otherPaths: Json = {
  '/v1/search': {
    get: op(
      'search',
      'Entities carrying a tag (eventually consistent, with the index’s freshness)',
      'search',
      {
        parameters: [
          { name: 'tag', in: 'query', required: true, schema: { type: 'string' }, description: 'Letters, digits, space, _ . - (starting with a letter or digit), at most commands.maxTagLength' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 1000, default: 20 } },
        ],
      },
      { 200: json(ref('SearchResult'), 'Hits and how fresh the index is'), 400: error('Missing or invalid tag or limit'), 503: error('The search index is unavailable') },
    ),
  },
  '/v1/analytics/usage': {
    get: op('analyticsUsage', 'Tag usage per tag per hour (the analytics roll-up)', 'search', {
      parameters: [
        { name: 'tag', in: 'query', schema: { type: 'string' } },
        { name: 'from', in: 'query', schema: { type: 'string' }, description: 'ms since epoch, ISO 8601, or a duration back from now (15m, 2h, 1d)' },
        { name: 'to', in: 'query', schema: { type: 'string' } },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 } },
      ],
    }),
  },
  '/v1/dlq': {
    get: op('dlqList', 'Dead letters (operator)', 'operator', {
      security: admin,
      parameters: ['limit', 'all', 'parked', 'since'].map((name) => ({ name, in: 'query', schema: { type: 'string' } })),
    }, { 200: json(anyObject, '{ records }'), ...adminErrors }),
  },
  '/v1/dlq/replay': { post: op('dlqReplay', 'Re-drive dead letters (operator)', 'operator', { security: admin, requestBody: body({ dryRun: { type: 'boolean' }, since: { type: 'string' }, limit: { type: 'integer' } }) }, { 200: json(anyObject, 'Pass result'), ...adminErrors }) },
  '/v1/dlq/park': { post: op('dlqPark', 'Move dead letters to the parking topic (operator)', 'operator', { security: admin, requestBody: body({ dryRun: { type: 'boolean' }, limit: { type: 'integer' } }) }, { 200: json(anyObject, 'Pass result'), ...adminErrors }) },
  '/v1/reconcile': {
    post: op('reconcile', 'Compare the databases with the search index; repair on request (operator)', 'operator', {
      security: admin,
      requestBody: body({ shards: { type: 'array', items: { type: 'integer' } }, repair: { type: 'boolean' }, prefix: { type: 'string' }, confirmMs: { type: 'integer' }, sampleLimit: { type: 'integer' } }),
    }, { 200: json(anyObject, 'Drift report'), ...adminErrors }),
  },
  '/': { get: op('root', 'Redirects to the dashboard', 'dashboard', {}, { 302: { description: 'To /dashboard/' } }) },
  '/dashboard': { get: op('dashboardRedirect', 'Redirects to /dashboard/', 'dashboard', {}, { 302: { description: 'To /dashboard/' } }) },
  '/dashboard/': { get: op('dashboard', 'The dashboard (works offline)', 'dashboard', {}, { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } }) },
  '/dashboard/{file}': { get: op('dashboardAsset', 'A dashboard asset', 'dashboard', { parameters: [pathParam('file', 'Asset name')] }, { 200: { description: 'The asset' }, 404: error('No such asset') }) },
  '/dashboard/api/state': { get: op('dashboardState', 'Snapshot the dashboard draws: tree, machines, shard map, series', 'dashboard') },
  '/dashboard/api/events': { get: op('dashboardEvents', 'Live updates (server-sent events)', 'dashboard', {}, { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } } }) },
  '/debug/flight-recorder': { get: op('flightRecorder', 'Download the flight recorder (recent lifecycle and machine events)', 'dashboard') },
  '/admin/faults': { get: op('faults', 'Fault injections available (embedded and local profiles)', 'operator', { security: admin }, { 200: json(anyObject, '{ faults }'), ...adminErrors }) },
  '/admin/faults/{name}/inject': { post: op('injectFault', 'Inject a fault (e.g. stop-redis:redis0)', 'operator', { security: admin, parameters: [pathParam('name', 'Fault name')] }, { 200: json(anyObject, '{ fault }'), ...adminErrors }) },
  '/admin/faults/{name}/heal': { post: op('healFault', 'Heal an injected fault', 'operator', { security: admin, parameters: [pathParam('name', 'Fault name')] }, { 200: json(anyObject, '{ fault }'), ...adminErrors }) },
  '/admin/breakers': { get: op('breakers', 'Every breaker (cache shards, database reads, search…) and its state', 'operator', { security: admin }, { 200: json(anyObject, '{ breakers }'), ...adminErrors }) },
  '/admin/breakers/{name}/force': {
    post: op('forceBreaker', 'Force a breaker open, closed, disabled or metrics-only', 'operator', {
      security: admin,
      parameters: [pathParam('name', 'Breaker name, e.g. cache-redis0, pg0-reads')],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['state'], properties: { state: { enum: ['open', 'closed', 'disabled', 'metrics-only'] } } } } } },
    }, { 200: json(anyObject, 'Done'), ...adminErrors }),
  },
  '/admin/dlq/replay': { post: op('adminDlqReplay', 'Replay the DLQ (dashboard action)', 'operator', { security: admin, requestBody: body({ limit: { type: 'integer' } }) }, { 200: json(anyObject, 'Replay result'), ...adminErrors }) },
  '/admin/switchover/{cluster}': {
    post: op('switchover', 'Planned promotion of a replica of a cluster', 'operator', { security: admin, parameters: [pathParam('cluster', 'Cluster name, e.g. pg0')], requestBody: body({ target: { type: 'string' } }) }, { 200: json(anyObject, 'Switchover result'), ...adminErrors }),
  },
};
