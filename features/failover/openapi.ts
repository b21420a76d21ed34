// OpenAPI path items of the failover feature's operator routes (added to /openapi.json at start).
type Json = Record<string, unknown>;

const json = (schema: Json, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json({ $ref: '#/components/schemas/Error' }, description);
const param = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const common = { tags: ['operator'], security: [{ adminToken: [] }], parameters: [param('cluster', 'Cluster name, e.g. pg0'), param('node', 'Node name, e.g. pg0-n0')] };
const errors = {
  401: error('Missing or wrong `Authorization: Bearer <http.adminToken>` (TS_ERR_UNAUTHORIZED)'),
  400: error('The node is the primary (TS_ERR_BAD_REQUEST)'),
  404: error('No such cluster or node (TS_ERR_NOT_FOUND)'),
  500: error('The re-seed failed (the message says why; TS_ERR_INTERNAL with an errorId that is also in the log line)'),
  501: error('Not offered here: failover is off for the cluster, or a Patroni action on a cluster Patroni does not manage (TS_ERR_NOT_SUPPORTED, no Retry-After)'),
  409: error('Not possible now: a failover in progress, or the node is not a replica streaming from the primary (TS_ERR_ACTION_UNAVAILABLE, with Retry-After); or this daemon is not the failover leader (TS_ERR_NOT_LEADER)'),
};
const topology = { type: 'object', properties: { primary: { type: 'string' }, replicas: { type: 'array', items: { type: 'string' } }, fenced: { type: 'array', items: { type: 'string' } } } };

export const failoverOpenApiPaths: Json = {
  '/admin/reseed/{cluster}/{node}': {
    post: {
      operationId: 'reseed',
      summary: 'Re-seed a diverged old primary as a replica of the current primary, then route reads to it',
      description:
        'Local profile: pg_rewind (or pg_basebackup) by services/, then adopt. Patroni-managed cluster: asks the member’s Patroni to re-initialise it (reads return once Patroni reports it streaming). Production: `done: false` and the manual procedure, ending with adopt.',
      ...common,
      responses: {
        200: json({ type: 'object', required: ['cluster', 'node', 'primary', 'done', 'method', 'message'], properties: { cluster: { type: 'string' }, node: { type: 'string' }, primary: { type: 'string' }, done: { type: 'boolean' }, method: { enum: ['pg_rewind', 'basebackup', 'embedded', 'patroni-reinitialize', 'manual'] }, message: { type: 'string' }, topology, procedure: { type: 'array', items: { type: 'string' } } } }, 'What was done, or what to do'),
        ...errors,
      },
    },
  },
  '/admin/adopt/{cluster}/{node}': {
    post: { operationId: 'adopt', summary: 'Route reads to a node re-seeded by hand (it must be a replica streaming from the primary)', ...common, responses: { 200: json({ type: 'object', properties: { cluster: { type: 'string' }, node: { type: 'string' }, topology } }, 'The new topology'), ...errors } },
  },
  '/admin/failover': {
    get: { operationId: 'failoverStatus', summary: 'Each cluster monitor: mode, state, topology, last failover, diverged nodes, Patroni view', tags: ['operator'], security: [{ adminToken: [] }], responses: { 200: json({ type: 'object', properties: { clusters: { type: 'object', additionalProperties: true } } }, 'Monitors'), 401: errors[401] } },
  },
};
