import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { encodeExportResponseProtobuf, encodeRpcStatus, exportResponseJson } from '../../core/otlp.ts'
import { OtlpInvalidError } from '../../core/errors.ts'
import type { OtlpRequest } from '../../services/span-import.ts'
import { describeError, httpCodes, HttpError } from '../errors.ts'
import { requestSignal } from '../request.ts'
import { spanImportResultView } from '../../services/views.ts'
import type * as Wire from '../../core/api-types.ts'
import { errorResponses, writeSecurity } from './api/context.ts'
import type { ApiContext } from './api/context.ts'

const inflate = promisify(gunzip)

/** Largest OTLP request body, before and after decompression (the OTLP specification's default). */
export const OTLP_BODY_LIMIT = 64 * 1024 * 1024

/**
 * How long a span whose parent span has not arrived waits for it at `POST /v1/traces`, ms: SDKs
 * export spans as they end, children first, and a long agent run's spans come in several batches.
 */
export const OTLP_PARENT_WAIT_MS = 60_000

const JSON_TYPE = 'application/json'
const PROTOBUF_TYPE = 'application/x-protobuf'

const isProtobuf = (request: FastifyRequest): boolean => (request.headers['content-type'] ?? '').toLowerCase().startsWith(PROTOBUF_TYPE)

/**
 * The request as the span import takes it: the body, gunzipped when `Content-Encoding: gzip` says
 * so (at most OTLP_BODY_LIMIT once inflated), and its encoding from `Content-Type`.
 */
async function otlpRequest (request: FastifyRequest<{ Body: Buffer | undefined }>): Promise<OtlpRequest> {
  // An empty body is an empty protobuf message (an export of nothing, which succeeds), and not JSON.
  let body = request.body ?? Buffer.alloc(0)
  const coding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  if (coding === 'gzip' || coding === 'x-gzip') {
    try {
      body = await inflate(body, { maxOutputLength: OTLP_BODY_LIMIT })
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new HttpError(httpCodes.payloadTooLarge, `the gzipped body inflates to more than ${OTLP_BODY_LIMIT} bytes`)
      throw new OtlpInvalidError(`the body is not valid gzip (Content-Encoding: gzip): ${(err as Error).message}`)
    }
  } else if (coding !== 'identity' && coding !== '') {
    throw new HttpError(httpCodes.unsupportedMediaType, `Content-Encoding "${coding}" is not supported: send gzip or identity`)
  }
  return isProtobuf(request) ? { encoding: 'protobuf', body } : { encoding: 'json', body }
}

/** Both routes read the raw body: OTLP JSON and protobuf, perhaps gzipped. */
function rawBodies (app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser([JSON_TYPE, PROTOBUF_TYPE], { parseAs: 'buffer', bodyLimit: OTLP_BODY_LIMIT }, (_request, body, done) => { done(null, body) })
}

/**
 * `POST /v1/traces`: the OTLP/HTTP trace receiver (OTLP specification 1.x), so that any
 * OpenTelemetry SDK or collector exports to framehub with `OTEL_EXPORTER_OTLP_ENDPOINT` set to
 * the gateway. Errors: 4xx/5xx with, for a protobuf request, a protobuf google.rpc.Status whose
 * ErrorInfo `reason` is framehub's code; otherwise framehub's JSON error body (`code`, `message`).
 */
export async function otlpRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx
  rawBodies(app)
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = describeError(err)
    if (status >= 500) request.log.error({ err }, 'request failed')
    if (status === 401) void reply.header('www-authenticate', 'Bearer')
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy()
      return
    }
    if (isProtobuf(request)) {
      void reply.code(status).type(PROTOBUF_TYPE).send(Buffer.from(encodeRpcStatus(status, body.code, body.message)))
      return
    }
    void reply.code(status).type('application/json; charset=utf-8').send(body)
  })

  // Spans that waited for their parent longer than OTLP_PARENT_WAIT_MS are written as roots even
  // when no export comes to do it.
  const flushing = setInterval(() => {
    void (async () => { await node.spans.flush({ olderThanMs: OTLP_PARENT_WAIT_MS }) })()
      .catch((err: unknown) => { app.log.warn({ err }, 'writing spans that waited for their parent failed') })
  }, OTLP_PARENT_WAIT_MS / 2)
  flushing.unref()
  app.addHook('onClose', async () => { clearInterval(flushing) })

  app.post<{ Body: Buffer | undefined }>('/v1/traces', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'OTLP/HTTP trace receiver: each span becomes a signed trace step',
      description: `Body: an OTLP ExportTraceServiceRequest, binary protobuf (${PROTOBUF_TYPE}) or OTLP JSON (${JSON_TYPE}), optionally with Content-Encoding: gzip; at most 64 MiB, also once inflated. The answer is an ExportTraceServiceResponse in the request's encoding. All or nothing: a bad request writes nothing and gets 400 ERR_OTLP_INVALID (or ERR_JSON_INVALID, 422 ERR_LINK_UNRESOLVED for a frame that is not there); for a protobuf request the error body is a protobuf google.rpc.Status whose ErrorInfo reason is the code. Spans imported before are not written again. A span whose parent span has not arrived waits for it (kept in the repository) up to ${OTLP_PARENT_WAIT_MS / 1000} s, then is written as a root.`,
      tags: ['traces'],
      security: writeSecurity,
      response: { 200: { description: 'ExportTraceServiceResponse (partial_success unset: every span was accepted)' } }
    }
  }, async (request, reply) => {
    const otlp = await otlpRequest(request)
    await node.spans.import(otlp, { waitForParentMs: OTLP_PARENT_WAIT_MS, signal: requestSignal(request, reply, limits.handlerTimeoutMs) })
    if (otlp.encoding === 'protobuf') return await reply.type(PROTOBUF_TYPE).send(Buffer.from(encodeExportResponseProtobuf({})))
    return await reply.type(JSON_TYPE).send(exportResponseJson({}))
  })
}

/** `POST /api/v1/spans`: the same import, answering what became of each span (the CLI's `trace import` through a daemon). */
export async function spanImportRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx
  rawBodies(app)
  app.post<{ Body: Buffer | undefined, Querystring: { waitForParentMs: number } }>('/spans', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Import OpenTelemetry spans (an OTLP trace export) as signed trace steps',
      description: 'Body: as for POST /v1/traces (OTLP JSON or protobuf, optionally gzipped). All or nothing. Answers which step each span became. A span whose parent span is neither in the request nor imported before is written as a root, unless waitForParentMs lets it wait for its parent.',
      tags: ['traces'],
      security: writeSecurity,
      querystring: { type: 'object', additionalProperties: false, properties: { waitForParentMs: { type: 'integer', minimum: 0, maximum: 86_400_000, default: 0 } } },
      response: { 200: { $ref: 'api-span-import-result.schema.json#' }, ...errorResponses }
    }
  }, async (request, reply): Promise<Wire.SpanImportResult> => {
    const result = await node.spans.import(await otlpRequest(request), { waitForParentMs: request.query.waitForParentMs, signal: requestSignal(request, reply, limits.handlerTimeoutMs) })
    return spanImportResultView(result)
  })

  app.post<{ Querystring: { olderThanMs: number } }>('/spans/flush', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Write the spans waiting for their parent span (longer than olderThanMs) as roots',
      tags: ['traces'],
      security: writeSecurity,
      querystring: { type: 'object', additionalProperties: false, properties: { olderThanMs: { type: 'integer', minimum: 0, default: 0 } } },
      response: { 200: { $ref: 'api-span-flush-result.schema.json#' }, ...errorResponses }
    }
  }, async (request): Promise<Wire.SpanFlushResult> => await node.spans.flush({ olderThanMs: request.query.olderThanMs }))
}
