import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { FramehubError, isFramehubError } from '../core/errors.ts'
import type { Code } from '../core/errors.ts'

/**
 * The codes the HTTP layer raises itself, by name (all codes are in the one registry,
 * `CODES` in src/core/errors.ts). Stable: clients and the CLI match on them.
 */
export const httpCodes = {
  validation: 'ERR_VALIDATION',
  badRequest: 'ERR_BAD_REQUEST',
  unauthorized: 'ERR_UNAUTHORIZED',
  hostNotAllowed: 'ERR_HOST_NOT_ALLOWED',
  notFound: 'ERR_NOT_FOUND',
  methodNotAllowed: 'ERR_METHOD_NOT_ALLOWED',
  notAcceptable: 'ERR_NOT_ACCEPTABLE',
  payloadTooLarge: 'ERR_PAYLOAD_TOO_LARGE',
  unsupportedMediaType: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  rangeNotSatisfiable: 'ERR_RANGE_NOT_SATISFIABLE',
  preconditionFailed: 'ERR_PRECONDITION_FAILED',
  rateLimited: 'ERR_RATE_LIMITED',
  overloaded: 'ERR_OVERLOADED',
  timeout: 'ERR_TIMEOUT',
  pinNotFound: 'ERR_PIN_NOT_FOUND',
  internal: 'ERR_INTERNAL'
} as const satisfies Record<string, Code>

/** An error the gateway raises itself, with the HTTP-only codes above. */
export class HttpError extends FramehubError {
  constructor (code: Code, message: string, details?: Record<string, unknown>) {
    super(code, message, details)
    this.name = 'HttpError'
  }
}

/**
 * The one table: stable error code → HTTP status. Every code of the registry has one (`tsc`
 * fails on a missing entry); a code outside it (sent by a peer or daemon of another version) is 500.
 */
export const statusOfCode = {
  // core
  ERR_JSON_INVALID: 400,
  ERR_FRAME_INVALID: 400,
  ERR_TRACE_STEP_INVALID: 400,
  ERR_OTLP_INVALID: 400,
  ERR_COMMIT_INVALID: 422,
  ERR_BLOCK_INVALID: 422,
  ERR_BLOCK_NOT_FOUND: 404,
  ERR_BLOCK_CORRUPT: 500,
  ERR_CID_INVALID: 400,
  ERR_SIGNATURE_INVALID: 422,
  ERR_REF_NOT_FOUND: 404,
  ERR_REF_INVALID: 400,
  ERR_REF_EXISTS: 409,
  ERR_FRAME_NOT_FOUND: 404,
  ERR_SESSION_NOT_FOUND: 404,
  ERR_LINK_UNRESOLVED: 422,
  ERR_NOTHING_TO_COMMIT: 409,
  ERR_REPO_EXISTS: 409,
  // A conditional write (If-Match, If-None-Match) whose precondition does not hold: RFC 9110's 412.
  ERR_CONFLICT: 412,
  ERR_REPO_NOT_FOUND: 500,
  ERR_REPO_LOCKED: 503,
  ERR_REPO_CORRUPT: 500,
  ERR_CAR_INVALID: 400,
  ERR_DAG_INCOMPLETE: 422,
  ERR_NETWORK_OFFLINE: 409,
  ERR_PEER_UNREACHABLE: 502,
  ERR_SYNC_PROTOCOL: 502,
  ERR_COHERENCE: 422,
  ERR_USAGE: 400,
  ERR_FILE_NOT_FOUND: 404,
  ERR_FILE_WRITE: 500,
  // network: what a serving peer answers on the sync protocol; never a gateway answer
  ERR_SYNC_FAILED: 502,
  // tree module (src/core/tree/errors.ts)
  ERR_TREE_INVALID: 422,
  ERR_TREE_INPUT_INVALID: 400,
  // http
  ERR_VALIDATION: 400,
  ERR_BAD_REQUEST: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_HOST_NOT_ALLOWED: 403,
  ERR_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_NOT_ACCEPTABLE: 406,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RANGE_NOT_SATISFIABLE: 416,
  ERR_PRECONDITION_FAILED: 412,
  ERR_RATE_LIMITED: 429,
  ERR_OVERLOADED: 503,
  ERR_TIMEOUT: 503,
  ERR_PIN_NOT_FOUND: 404,
  ERR_INTERNAL: 500,
  // raised by the CLI and its client of a daemon, never by the gateway: an upstream that failed
  ERR_DAEMON_UNREACHABLE: 502,
  ERR_PIN_SERVICE_UNREACHABLE: 502,
  ERR_PIN_SERVICE: 502,
  ERR_PIN_FAILED: 502
} as const satisfies Record<Code, number>

/** The HTTP status of `code`: from `statusOfCode`, 500 for a code outside the registry. */
export function statusOf (code: string): number {
  return Object.hasOwn(statusOfCode, code) ? statusOfCode[code as Code] : 500
}

/** Fastify's own error codes (and the Node ones it passes on) → ours. */
const fastifyCodes: Readonly<Record<string, Code>> = {
  FST_ERR_VALIDATION: httpCodes.validation,
  FST_ERR_CTP_BODY_TOO_LARGE: httpCodes.payloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: httpCodes.unsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: httpCodes.badRequest,
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_JSON_INVALID',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_JSON_INVALID',
  FST_ERR_BAD_URL: httpCodes.badRequest,
  FST_ERR_NOT_FOUND: httpCodes.notFound,
  FST_ERR_ASYNC_CONSTRAINT: httpCodes.badRequest,
  FST_ERR_REQ_INVALID_VALIDATION_INVOCATION: httpCodes.internal
}

/** A gateway error body. */
export interface ErrorBody {
  code: string
  message: string
  details?: Record<string, unknown>
}

/** Maps anything thrown in a handler to (status, body). Never leaks a stack. */
export function describeError (err: unknown): { status: number, body: ErrorBody } {
  if (isFramehubError(err)) {
    const status = statusOf(err.code)
    const body: ErrorBody = { code: err.code, message: status >= 500 && !Object.hasOwn(statusOfCode, err.code) ? 'internal error' : err.message }
    if (err.details !== undefined && status < 500) body.details = err.details
    return { status, body }
  }
  const e = err as (Partial<FastifyError> & { name?: string, status?: number }) | undefined
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError' || e?.code === 'ABORT_ERR') {
    return { status: 503, body: { code: httpCodes.timeout, message: 'the request was aborted or timed out' } }
  }
  if (typeof e?.code === 'string' && e.code in fastifyCodes) {
    const code = fastifyCodes[e.code] as Code
    const status = statusOfCode[code]
    return { status, body: { code, message: e.message ?? code } }
  }
  // The JSON parser's SyntaxError (fastify attaches statusCode 400).
  if (err instanceof SyntaxError && e?.statusCode === 400) return { status: 400, body: { code: 'ERR_JSON_INVALID', message: err.message } }
  const status = e?.statusCode ?? e?.status
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = status === 429 ? httpCodes.rateLimited : status === 413 ? httpCodes.payloadTooLarge : status === 404 ? httpCodes.notFound : status === 415 ? httpCodes.unsupportedMediaType : httpCodes.badRequest
    return { status, body: { code, message: e?.message ?? code } }
  }
  return { status: 500, body: { code: httpCodes.internal, message: 'internal error' } }
}

/** How an error body looks in a given part of the API (the pinning API has its own shape). */
export type ErrorFormatter = (status: number, body: ErrorBody) => unknown

/** The default `{ code, message }` shape. */
export const formatGatewayError: ErrorFormatter = (_status, body) => body

/** Installs the error and not-found handlers on `app` (and its children unless they override them). */
export function installErrorHandlers (app: FastifyInstance, format: ErrorFormatter = formatGatewayError): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    let { status, body } = describeError(err)
    // A body that fails its schema gets the code the CLI gives for the same input (ERR_FRAME_INVALID, ...).
    const bodyCode = (request.routeOptions.config as { bodyErrorCode?: string } | undefined)?.bodyErrorCode
    if (body.code === httpCodes.validation && (err as { validationContext?: string }).validationContext === 'body' && bodyCode != null) {
      body = { ...body, code: bodyCode }
      status = Object.hasOwn(statusOfCode, bodyCode) ? statusOf(bodyCode) : status
    }
    if (status >= 500) request.log.error({ err }, 'request failed')
    else request.log.debug({ code: body.code }, body.message)
    if (status === 401) void reply.header('www-authenticate', 'Bearer')
    // A streamed response whose headers are out can only be cut short.
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy()
      return
    }
    void reply.code(status).type('application/json; charset=utf-8').send(format(status, body))
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    const allow = allowedMethods(app, path)
    if (allow.length > 0) {
      const body: ErrorBody = { code: httpCodes.methodNotAllowed, message: `${request.method} is not allowed on ${path} (allowed: ${allow.join(', ')})` }
      void reply.code(405).header('allow', allow.join(', ')).type('application/json; charset=utf-8').send(format(405, body))
      return
    }
    const body: ErrorBody = { code: httpCodes.notFound, message: `no route ${request.method} ${path}` }
    void reply.code(404).type('application/json; charset=utf-8').send(format(404, body))
  })
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/**
 * The methods that have a route for `path` (for a 405 and its `Allow` header); empty when the path
 * has none. OPTIONS is left out: the CORS preflight route matches every path. Asked only when a
 * request matched no route, so it costs nothing on routes that exist.
 */
function allowedMethods (app: FastifyInstance, path: string): string[] {
  const allow: string[] = []
  for (const method of METHODS) {
    if (app.findRoute({ method, url: path }) != null) allow.push(method)
  }
  return allow
}
