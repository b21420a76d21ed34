// The index's schema, shared by ElasticSearchIndex (sent to Elasticsearch) and MemorySearchIndex (which
// emulates what Elasticsearch's strict mapping accepts, so a bad document fails the same way in both).
import type { BulkItemResult, TagDoc } from './port.ts';

/** The external version is also kept in _source: Elasticsearch returns _version as a JSON number (≤ 2^53). */
export const VERSION_FIELD = 'v';

export const TAG_DOC_FIELDS = ['entity', 'tag', 'attached', 'shard', 'at'] as const;

export const MAX_VERSION = 2n ** 63n - 1n;

export function indexMappings() {
  return {
    dynamic: 'strict' as const,
    properties: {
      entity: { type: 'keyword' as const },
      tag: { type: 'keyword' as const },
      attached: { type: 'boolean' as const },
      shard: { type: 'integer' as const },
      at: { type: 'date' as const, format: 'epoch_millis' },
      [VERSION_FIELD]: { type: 'keyword' as const, index: false, doc_values: false },
    },
  };
}

/** Elasticsearch's external versions are non-negative longs. */
export function versionError(id: string, version: string): BulkItemResult | null {
  if (/^\d{1,19}$/.test(version) && BigInt(version) <= MAX_VERSION) return null;
  return { id, status: 'error', httpStatus: 400, type: 'action_request_validation_exception', reason: `Validation Failed: 1: illegal version value [${version}] for version type [EXTERNAL];` };
}

type Rejection = { type: string; reason: string };

/** What Elasticsearch's strict mapping would reject in `doc` (the stand-in's emulation), or null. */
export function mappingError(id: string, doc: unknown): Rejection | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { type: 'document_parsing_exception', reason: `[1:1] failed to parse: the document with id '${id}' is not an object` };
  for (const [field, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!(TAG_DOC_FIELDS as readonly string[]).includes(field)) {
      return { type: 'strict_dynamic_mapping_exception', reason: `[1:2] mapping set to strict, dynamic introduction of [${field}] within [_doc] is not allowed` };
    }
    if (value === null || value === undefined) continue;
    if (!fieldAccepts(field, value)) {
      const preview = typeof value === 'object' ? JSON.stringify(value) : String(value);
      return { type: 'document_parsing_exception', reason: `[1:1] failed to parse field [${field}] of type [${FIELD_TYPES[field]}] in document with id '${id}'. Preview of field's value: '${preview}'` };
    }
  }
  return null;
}

const FIELD_TYPES: Record<string, string> = { entity: 'keyword', tag: 'keyword', attached: 'boolean', shard: 'integer', at: 'date' };

function fieldAccepts(field: string, value: unknown): boolean {
  switch (field) {
    case 'entity':
    case 'tag':
      return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
    case 'attached':
      return typeof value === 'boolean' || value === 'true' || value === 'false' || value === '';
    case 'shard': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      return Number.isFinite(n) && Math.trunc(n) >= -(2 ** 31) && Math.trunc(n) < 2 ** 31;
    }
    case 'at':
      return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value));
    default:
      return true;
  }
}

/** Strips our bookkeeping field from a stored _source. */
export function toTagDoc(source: Record<string, unknown>): TagDoc {
  const { [VERSION_FIELD]: _v, ...doc } = source;
  return doc as unknown as TagDoc;
}
