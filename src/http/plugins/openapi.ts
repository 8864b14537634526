import type { RouteOptions } from 'fastify'

type Schema = Record<string, unknown>

const ERROR_REF = 'api-error.schema.json#'
const PIN_FAILURE_REF = 'api-pin-failure.schema.json#'
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** The name a trailing wildcard (`/ipfs/:cid/*`) gets in the document: `*` is no name a client can use. */
const WILDCARD_NAME = 'path'

/**
 * The error statuses a route answers whatever it does, because of what the gateway does before
 * and around its handler:
 * - 403 ERR_HOST_NOT_ALLOWED (Host check), 500, 503 (overload, timeouts, closing): every route;
 * - 400: a route that reads params, a query string or a body (validation, bad URL, bad JSON);
 * - 401: a route that needs the token (it declares `security`);
 * - 413, 415: a route that takes a body;
 * - 429: a rate-limited route.
 */
function sharedStatuses (schema: Schema, method: string, route: RouteOptions): number[] {
  const statuses = [403, 500, 503]
  if (schema.params != null || schema.querystring != null || schema.body != null || BODY_METHODS.has(method)) statuses.push(400)
  if (schema.security != null) statuses.push(401)
  if (BODY_METHODS.has(method)) statuses.push(413, 415)
  if ((route.config as { rateLimit?: unknown } | undefined)?.rateLimit != null) statuses.push(429)
  return statuses
}

/** Keeps only the path parameters the URL has, with the wildcard renamed; all required. */
function pathParams (params: Schema, names: Set<string>): Schema {
  const properties = (params.properties ?? {}) as Record<string, Schema>
  const kept: Record<string, Schema> = {}
  for (const [name, sub] of Object.entries(properties)) {
    if (names.has(name)) kept[name === '*' ? WILDCARD_NAME : name] = sub
  }
  return { ...params, properties: kept, required: Object.keys(kept) }
}

/**
 * `@fastify/swagger`'s `transform`: how a route appears in the OpenAPI document (validation and
 * serialization keep the route's own schema).
 * - Path parameters are those of the route's own URL: routes that share a params schema
 *   (`/ipfs/:cid` and `/ipfs/:cid/*`) no longer declare a parameter their path does not have,
 *   and the wildcard is called `path`.
 * - Error responses are explicit statuses: the `4xx`/`5xx` ranges used for serialization give
 *   way to the statuses every route of its kind shares (sharedStatuses) plus those the route
 *   declares itself, each a `$ref` to the one error body (the pinning API's Failure under /pins).
 */
export function openapiTransform ({ schema, url, route }: { schema: unknown, url: string, route: RouteOptions }): { schema: Schema, url: string } {
  if (schema == null || typeof schema !== 'object' || (schema as Schema).hide === true) return { schema: schema as Schema, url }
  const out: Schema = { ...(schema as Schema) }
  const names = new Set([...url.matchAll(/:([A-Za-z0-9_]+)/g)].map(m => m[1] as string))
  if (url.endsWith('*')) names.add('*')
  if (out.params != null) out.params = pathParams(out.params as Schema, names)
  const documentedUrl = url.endsWith('*') ? `${url.slice(0, -1)}:${WILDCARD_NAME}` : url

  const method = String(Array.isArray(route.method) ? route.method[0] : route.method).toUpperCase()
  const errorBody = { $ref: url.startsWith('/pins') ? PIN_FAILURE_REF : ERROR_REF }
  const responses: Schema = {}
  for (const [status, response] of Object.entries((out.response ?? {}) as Schema)) {
    if (!/^[45]xx$/i.test(status)) responses[status] = response
  }
  // A route without a declared success (a stream, a block, a file) still answers 200.
  if (!Object.keys(responses).some(status => /^[23]/.test(status))) responses['200'] = { description: 'Success' }
  for (const status of sharedStatuses(out, method, route)) responses[String(status)] ??= errorBody
  out.response = responses
  return { schema: out, url: documentedUrl }
}
