import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { MAX_JSON_TEXT_BYTES } from '../../../core/json-view.ts'
import { httpCodes, HttpError } from '../../errors.ts'
import { drainBody, refuseDeclaredOver, requestSignal } from '../../request.ts'
import { errorResponses, errors, stagingQuerystring, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'

const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'text/plain']

/**
 * Longest NDJSON line held in memory: twice the JSON text of one frame, so a line over that limit
 * still reaches the import and is refused there as `frame import` refuses it (with its line number).
 */
const MAX_LINE = 2 * MAX_JSON_TEXT_BYTES

/**
 * The lines of a request body (LF or CRLF), read as they arrive. Stops past `limit` bytes. The body
 * is read without being destroyed when the import stops early, so the error can still be answered.
 */
export async function * bodyLines (body: IncomingMessage, limit: number): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: false })
  let total = 0
  let rest = ''
  for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += chunk.byteLength
    if (total > limit) throw new HttpError(httpCodes.payloadTooLarge, `the NDJSON upload is larger than the limit of ${limit} bytes`)
    rest += decoder.decode(chunk, { stream: true })
    let at: number
    while ((at = rest.indexOf('\n')) !== -1) {
      const line = rest.slice(0, at)
      rest = rest.slice(at + 1)
      yield line.endsWith('\r') ? line.slice(0, -1) : line
    }
    if (rest.length > MAX_LINE) throw new HttpError(httpCodes.payloadTooLarge, `an NDJSON line is longer than ${MAX_LINE} bytes`)
  }
  rest += decoder.decode()
  if (rest !== '') yield rest.endsWith('\r') ? rest.slice(0, -1) : rest
}

export async function frameImportRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx

  // The upload is streamed into the import line by line, never buffered whole.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(NDJSON_TYPES, (_request, payload, done) => { done(null, payload) })

  app.post<{ Querystring: { branch?: string, source?: string }, Body: IncomingMessage | undefined }>('/frames/import', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Store and stage many frames (NDJSON: one frame per line) in one batch; all or nothing',
      description: `Body: NDJSON (Content-Type ${NDJSON_TYPES[0] as string}), streamed; at most the configured import limit. A bad line fails the whole import with the code the CLI gives (ERR_JSON_INVALID, ERR_FRAME_INVALID, ERR_LINK_UNRESOLVED) and its line number in the message.`,
      tags: ['frames'],
      security: writeSecurity,
      querystring: stagingQuerystring,
      response: { 201: { $ref: 'api-import-result.schema.json#' }, ...errorResponses, ...errors(404, 422) }
    }
  }, async (request, reply) => {
    refuseDeclaredOver(request, limits.frameImportBytes, 'NDJSON upload')
    const body = request.body
    if (body == null) throw new HttpError(httpCodes.badRequest, 'the request has no body: send NDJSON, one frame per line')
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs * 10)
    try {
      const result = await node.frames.import(bodyLines(body, limits.frameImportBytes), { branch: request.query.branch, source: request.query.source ?? 'request body', signal })
      return await reply.code(201).send({ frames: result.frames, tree: result.tree.toString() })
    } catch (err) {
      await drainBody(body, limits.frameImportBytes)
      throw err
    }
  })
}
