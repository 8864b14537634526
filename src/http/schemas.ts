import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import type { SerializerFactory } from '@fastify/fast-json-stringify-compiler'
import { Ajv } from 'ajv'
import type { FastifyInstance } from 'fastify'
import { addFramehubFormats, schemas as coreSchemas } from '../core/schemas.ts'
import appendResultSchema from '../../schemas/api/append-result.schema.json' with { type: 'json' }
import attachmentSchema from '../../schemas/api/attachment.schema.json' with { type: 'json' }
import branchCreateSchema from '../../schemas/api/branch-create.schema.json' with { type: 'json' }
import branchListSchema from '../../schemas/api/branch-list.schema.json' with { type: 'json' }
import branchSchema from '../../schemas/api/branch.schema.json' with { type: 'json' }
import checkoutRequestSchema from '../../schemas/api/checkout-request.schema.json' with { type: 'json' }
import checkoutResultSchema from '../../schemas/api/checkout-result.schema.json' with { type: 'json' }
import cidSchema from '../../schemas/api/cid.schema.json' with { type: 'json' }
import commitGraphSchema from '../../schemas/api/commit-graph.schema.json' with { type: 'json' }
import commitLogSchema from '../../schemas/api/commit-log.schema.json' with { type: 'json' }
import commitRequestSchema from '../../schemas/api/commit-request.schema.json' with { type: 'json' }
import commitResultSchema from '../../schemas/api/commit-result.schema.json' with { type: 'json' }
import consensusSchema from '../../schemas/api/consensus.schema.json' with { type: 'json' }
import consensusStatusSchema from '../../schemas/api/consensus-status.schema.json' with { type: 'json' }
import membersSchema from '../../schemas/api/members.schema.json' with { type: 'json' }
import shadowSchema from '../../schemas/api/shadow.schema.json' with { type: 'json' }
import fingerprintsSchema from '../../schemas/api/fingerprints.schema.json' with { type: 'json' }
import disconnectResultSchema from '../../schemas/api/disconnect-result.schema.json' with { type: 'json' }
import diffResultSchema from '../../schemas/api/diff-result.schema.json' with { type: 'json' }
import errorSchema from '../../schemas/api/error.schema.json' with { type: 'json' }
import forkSchema from '../../schemas/api/fork.schema.json' with { type: 'json' }
import forkListSchema from '../../schemas/api/fork-list.schema.json' with { type: 'json' }
import gcResultSchema from '../../schemas/api/gc-result.schema.json' with { type: 'json' }
import healthSchema from '../../schemas/api/health.schema.json' with { type: 'json' }
import frameHistorySchema from '../../schemas/api/frame-history.schema.json' with { type: 'json' }
import frameListSchema from '../../schemas/api/frame-list.schema.json' with { type: 'json' }
import frameRecordSchema from '../../schemas/api/frame-record.schema.json' with { type: 'json' }
import frameRemoveResultSchema from '../../schemas/api/frame-remove-result.schema.json' with { type: 'json' }
import frameRevertRequestSchema from '../../schemas/api/frame-revert-request.schema.json' with { type: 'json' }
import headSchema from '../../schemas/api/head.schema.json' with { type: 'json' }
import importResultSchema from '../../schemas/api/import-result.schema.json' with { type: 'json' }
import indexRebuildSchema from '../../schemas/api/index-rebuild.schema.json' with { type: 'json' }
import indexStatusSchema from '../../schemas/api/index-status.schema.json' with { type: 'json' }
import mergeRequestSchema from '../../schemas/api/merge-request.schema.json' with { type: 'json' }
import mergeResultSchema from '../../schemas/api/merge-result.schema.json' with { type: 'json' }
import networkStatusSchema from '../../schemas/api/network-status.schema.json' with { type: 'json' }
import nodeIdentitySchema from '../../schemas/api/node-identity.schema.json' with { type: 'json' }
import peerFingerprintSchema from '../../schemas/api/peer-fingerprint.schema.json' with { type: 'json' }
import peerSchema from '../../schemas/api/peer.schema.json' with { type: 'json' }
import peersSchema from '../../schemas/api/peers.schema.json' with { type: 'json' }
import pinFailureSchema from '../../schemas/api/pin-failure.schema.json' with { type: 'json' }
import pinResultsSchema from '../../schemas/api/pin-results.schema.json' with { type: 'json' }
import pinStatusSchema from '../../schemas/api/pin-status.schema.json' with { type: 'json' }
import pinSchema from '../../schemas/api/pin.schema.json' with { type: 'json' }
import publishResultSchema from '../../schemas/api/publish-result.schema.json' with { type: 'json' }
import remotesSchema from '../../schemas/api/remotes.schema.json' with { type: 'json' }
import resolvedSchema from '../../schemas/api/resolved.schema.json' with { type: 'json' }
import routesSchema from '../../schemas/api/routes.schema.json' with { type: 'json' }
import sessionSchema from '../../schemas/api/session.schema.json' with { type: 'json' }
import sessionListSchema from '../../schemas/api/session-list.schema.json' with { type: 'json' }
import shownBlockSchema from '../../schemas/api/shown-block.schema.json' with { type: 'json' }
import snapshotStatsSchema from '../../schemas/api/snapshot-stats.schema.json' with { type: 'json' }
import spanFlushResultSchema from '../../schemas/api/span-flush-result.schema.json' with { type: 'json' }
import spanImportResultSchema from '../../schemas/api/span-import-result.schema.json' with { type: 'json' }
import stepAppendSchema from '../../schemas/api/step-append.schema.json' with { type: 'json' }
import stepGraphSchema from '../../schemas/api/step-graph.schema.json' with { type: 'json' }
import stepListSchema from '../../schemas/api/step-list.schema.json' with { type: 'json' }
import syncResultSchema from '../../schemas/api/sync-result.schema.json' with { type: 'json' }
import verifyReportSchema from '../../schemas/api/verify-report.schema.json' with { type: 'json' }

/** The API's own schemas (`schemas/api/`), keyed by `$id` like the core ones. */
export const apiSchemas = [
  appendResultSchema, attachmentSchema, branchCreateSchema, branchListSchema, branchSchema, checkoutRequestSchema, checkoutResultSchema, cidSchema, commitGraphSchema, commitLogSchema, commitRequestSchema, commitResultSchema, consensusSchema, consensusStatusSchema, diffResultSchema, disconnectResultSchema, errorSchema, fingerprintsSchema, forkListSchema, forkSchema, frameHistorySchema, frameListSchema, frameRecordSchema, frameRemoveResultSchema, frameRevertRequestSchema, gcResultSchema, headSchema, healthSchema, importResultSchema, indexRebuildSchema, indexStatusSchema, membersSchema, mergeRequestSchema, mergeResultSchema, networkStatusSchema, nodeIdentitySchema, peerFingerprintSchema, peerSchema, peersSchema, pinFailureSchema, pinResultsSchema, pinStatusSchema, pinSchema, publishResultSchema, remotesSchema, resolvedSchema, routesSchema, sessionListSchema, sessionSchema, shadowSchema, shownBlockSchema, snapshotStatsSchema, spanFlushResultSchema, spanImportResultSchema, stepAppendSchema, stepGraphSchema, stepListSchema, syncResultSchema, verifyReportSchema
] as const

/** Every schema the gateway knows: core first (API schemas reference them). */
export const allSchemas: ReadonlyArray<{ $id: string }> = [...coreSchemas, ...apiSchemas]

function newAjv (coerce: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: false,
    // Unknown fields are an error, never silently dropped.
    removeAdditional: false,
    useDefaults: true,
    // Bodies keep their JSON types ("5" is not 5); query strings and params are text and need it.
    coerceTypes: coerce ? 'array' : false,
    allowUnionTypes: true,
    strict: false
  })
  addFramehubFormats(ajv)
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(s) && !Number.isNaN(Date.parse(s)) })
  for (const schema of allSchemas) ajv.addSchema(schema)
  return ajv
}

/**
 * Registers every schema once (`addSchema`, referenced by `$ref` in routes and used by the
 * serializer and the OpenAPI document) and validates bodies without type coercion, query strings
 * and params with it.
 */
export function registerSchemas (app: FastifyInstance): void {
  // The gateway's copies (serializer, OpenAPI document) leave out keywords that only the type
  // generator reads: they are not JSON Schema, and OpenAPI 3.0 refuses unknown keywords.
  for (const schema of allSchemas) app.addSchema(withoutToolKeywords(schema))
  const body = newAjv(false)
  const text = newAjv(true)
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema))
}

/**
 * Fastify's response serializers (fast-json-stringify), each compiled when its route first
 * answers with that status instead of at start. Compiling all of them (about 200 route and status
 * pairs, each resolving the shared schemas anew) was about 1.7 s of the daemon's start, on the
 * event loop that also opens the network: measured with --cpu-prof, fast-json-stringify 1.3 s and
 * json-schema-ref-resolver 0.4 s. A route's first answer pays its own compile (milliseconds).
 */
export function lazySerializers (build: SerializerFactory = SerializerSelector()): SerializerFactory {
  return (externalSchemas, options) => {
    const compile = build(externalSchemas, options)
    return (route) => {
      let serializer: ((doc: unknown) => string) | undefined
      return (doc) => (serializer ??= compile(route))(doc)
    }
  }
}

/** Keywords of json-schema-to-typescript (`npm run gen:types`), not of JSON Schema. */
const TOOL_KEYWORDS = new Set(['tsType', 'tsEnumNames'])
/** Keywords whose value is a schema, a list of schemas, or a map of names to schemas. */
const SUBSCHEMA = new Set(['items', 'additionalItems', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames'])
const SUBSCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'items'])
const SUBSCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependencies'])

/**
 * A copy of `schema` without the type generator's keywords, wherever a subschema can be (the
 * names under `properties` are data, not keywords, and are kept whatever they are).
 */
export function withoutToolKeywords<T> (schema: T): T {
  if (schema === null || typeof schema !== 'object') return schema
  if (Array.isArray(schema)) return schema.map(s => withoutToolKeywords(s)) as T
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (TOOL_KEYWORDS.has(key)) continue
    if (SUBSCHEMA_MAPS.has(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, withoutToolKeywords(sub)]))
    } else if (SUBSCHEMA.has(key) || SUBSCHEMA_LISTS.has(key)) {
      out[key] = withoutToolKeywords(value)
    } else {
      out[key] = value
    }
  }
  return out as T
}

/**
 * A route's own error answers (404, 409, 422, ...), each with the one error body, for its
 * `schema.response`. The statuses every route shares are added to the OpenAPI document by the
 * gateway (`plugins/openapi.ts`).
 */
export function errors (...statuses: number[]): Record<number, { $ref: 'api-error.schema.json#' }> {
  return Object.fromEntries(statuses.map(s => [s, { $ref: 'api-error.schema.json#' as const }]))
}
