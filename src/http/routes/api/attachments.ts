import type { FastifyInstance } from 'fastify'
import { parseCid } from '../../../core/cid.ts'
import { isFramehubError } from '../../../core/errors.ts'
import { httpCodes, HttpError } from '../../errors.ts'
import { primedStream } from '../../primed.ts'
import { requestSignal } from '../../request.ts'
import { parseRange } from '../../range.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'

/** Errors of a download's UnixFS read that are answered as they are (not as "not a UnixFS file"). */
const PASS_THROUGH = new Set(['ERR_BLOCK_CORRUPT', 'ERR_BLOCK_NOT_FOUND', 'ERR_BLOCK_INVALID'])

const MEDIA_TYPE = /^[\w.+-]+\/[\w.+-]+$/
const SAFE_NAME = /^[^/\\\u0000-\u001f"]{1,255}$/

export async function attachmentRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx

  // Uploads are raw bytes of any media type: no JSON parsing here.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limits.attachmentBytes }, (_request, body, done) => { done(null, body) })

  app.post<{ Querystring: { name?: string, type?: string }, Body: Buffer | undefined }>('/attachments', {
    onRequest: auth,
    bodyLimit: limits.attachmentBytes,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Store a file (the raw request body) with UnixFS; returns the record for a frame\'s attachments',
      description: 'Media type: `type` query, else the Content-Type header (unless application/octet-stream), else guessed from `name`.',
      tags: ['attachments'],
      security: writeSecurity,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 255 },
          type: { type: 'string', minLength: 3, maxLength: 255 }
        }
      },
      response: { 201: { $ref: 'api-attachment.schema.json#' }, ...errorResponses }
    }
  }, async (request, reply) => {
    const name = request.query.name ?? 'file'
    if (!SAFE_NAME.test(name)) throw new HttpError(httpCodes.validation, 'querystring/name must be a file name without slashes, quotes or control characters')
    const header = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
    let type = request.query.type ?? (header != null && header !== '' && header !== 'application/octet-stream' ? header : undefined)
    if (type != null && !MEDIA_TYPE.test(type)) throw new HttpError(httpCodes.validation, `"${type}" is not a media type`)
    type = type?.toLowerCase()
    const bytes = request.body ?? Buffer.alloc(0)
    const record = await node.attachments.add({ name, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), type }, { signal: requestSignal(request, reply, limits.handlerTimeoutMs) })
    const cid = record.cid.toString()
    return await reply.code(201).header('location', `/api/v1/attachments/${cid}`)
      .send({ name: record.name, cid, size: record.size, type: record.type, link: { '/': cid } })
  })

  app.get<{ Params: { cid: string } }>('/attachments/:cid', {
    schema: {
      summary: 'Download a file by CID, with its media type; supports Range',
      tags: ['attachments'],
      params: { type: 'object', required: ['cid'], properties: { cid: { type: 'string', maxLength: 256 } } },
      response: { 200: { description: 'The file' }, 206: { description: 'The requested range (Range)' }, ...errorResponses, ...errors(404, 406, 416) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const cid = parseCid(request.params.cid, 'attachment CID')
    let size: number
    try {
      // Local blocks only (ERR_BLOCK_NOT_FOUND otherwise): the gateway never waits on the network.
      const stat = await node.attachments.stat(cid, { signal })
      if (stat.kind === 'directory') throw new HttpError(httpCodes.notAcceptable, `${cid} is a directory, not a file`)
      size = Number(stat.size)
    } catch (err) {
      // A block corrupt on disk (hash-checked by the repository's Helia blockstore) or gone is not
      // "not a file"; neither is an abort. Anything else UnixFS refuses is.
      if (err instanceof HttpError || (isFramehubError(err) && PASS_THROUGH.has(err.code)) || (err as Error).name === 'AbortError') throw err
      throw new HttpError(httpCodes.notAcceptable, `${cid} is not a UnixFS file: fetch it from /ipfs/${cid}?format=raw`)
    }
    const stored = await node.attachments.label(cid)
    const type = stored?.type ?? 'application/octet-stream'
    const name = (stored?.name ?? cid.toString()).replace(/[^\w.+-]/g, '_')
    const etag = `"${cid.toString()}"`
    const range = parseRange(request.headers.range, size)
    const offset = range === 'unsatisfiable' ? 0 : range?.start ?? 0
    const length = range === 'unsatisfiable' ? 0 : range == null ? size : range.end - range.start + 1
    const body = request.method === 'HEAD' || length === 0 || request.headers['if-none-match'] === etag
      ? undefined
      // The first chunk is read, its blocks hash-checked, before any header is set: a corrupt
      // block there is a plain JSON error (ERR_BLOCK_CORRUPT).
      : await primedStream(node.attachments.cat(cid, { offset, length, signal }))
    void reply
      .header('accept-ranges', 'bytes')
      .header('etag', etag)
      .header('cache-control', 'public, max-age=29030400, immutable')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('content-disposition', `attachment; filename="${name}"`)
      .type(type)
    if (request.headers['if-none-match'] === etag) return await reply.code(304).send()
    if (range === 'unsatisfiable') {
      void reply.header('content-range', `bytes */${size}`)
      throw new HttpError(httpCodes.rangeNotSatisfiable, `range ${request.headers.range ?? ''} is outside the ${size} bytes of ${cid}`)
    }
    if (range != null) void reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`)
    void reply.header('content-length', length)
    if (body == null) return await reply.send(length === 0 ? '' : undefined)
    return await reply.send(body)
  })
}
