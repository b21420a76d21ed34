// The body of an operator route: a JSON object with only the fields the route knows. An unknown field is a 400
// naming it — a mistyped option (`dryrun` for `dryRun`) must not silently run the real thing.
import type { FastifyRequest } from 'fastify';
import { badRequest } from './errors.ts';

export function bodyFields(req: FastifyRequest, allowed: readonly string[]): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null || b === '') return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw badRequest('body: must be a JSON object', 'body');
  for (const key of Object.keys(b)) {
    if (!allowed.includes(key)) {
      const name = key.slice(0, 120); // the client's text
      throw badRequest(`body.${name}: unknown field (known: ${allowed.join(', ') || 'none'})`, `body.${name}`);
    }
  }
  return b as Record<string, unknown>;
}
