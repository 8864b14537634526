import type { onRequestHookHandler } from 'fastify'
import type { FramehubNode } from '../../../node.ts'
import type { EventBus } from '../../../services/events.ts'
import type { StreamSlots } from '../../plugins/streams.ts'

/** What every route plugin under /api/v1 is given. */
export interface ApiContext {
  node: FramehubNode
  events: EventBus
  /** onRequest hook that demands the bearer token (write endpoints). */
  auth: onRequestHookHandler
  limits: ApiLimits
  /** Route-level rate limit config for write endpoints (`config.rateLimit`), or undefined. */
  writeRateLimit: Record<string, unknown> | undefined
  /** The open event streams and their limit (`GET /api/v1/events`). */
  streams: StreamSlots
}

export interface ApiLimits {
  /** Largest attachment upload, bytes. */
  attachmentBytes: number
  /** Largest CAR upload (block data), bytes. */
  carImportBytes: number
  /** Largest NDJSON frame import upload, bytes. */
  frameImportBytes: number
  /** Time a handler may spend on one request, ms. */
  handlerTimeoutMs: number
}

/**
 * The error body for every 4xx and 5xx answer of a route (serialization). In the OpenAPI
 * document these ranges give way to the statuses the route can answer: those every route of its
 * kind shares, added by the gateway (`src/http/plugins/openapi.ts`), and its own, given with
 * `errors(...)`.
 */
export const errorResponses = {
  '4xx': { $ref: 'api-error.schema.json#' },
  '5xx': { $ref: 'api-error.schema.json#' }
} as const

export { errors } from '../../schemas.ts'

export const writeSecurity = [{ bearer: [] }]

/** Query of the routes that stage frames: which branch, and what to call the input in errors. */
export const stagingQuerystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    branch: { type: 'string', minLength: 1, maxLength: 200 },
    source: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f]+$', description: 'Name of the input in error messages (e.g. the file name); default "request body"' }
  }
} as const
