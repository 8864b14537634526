import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { httpCodes, HttpError } from '../../errors.ts'
import { primedStream } from '../../primed.ts'
import { drainBody, refuseDeclaredOver, requestSignal } from '../../request.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'

const CAR_TYPES = ['application/vnd.ipld.car', 'application/octet-stream']

/**
 * Passes a request body through while counting it; stops it past `limit` bytes. The body is not
 * destroyed when the import stops early, so that the error can still be answered.
 */
async function * capped (body: IncomingMessage, limit: number): AsyncGenerator<Uint8Array> {
  let total = 0
  for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += chunk.byteLength
    if (total > limit) throw new HttpError(httpCodes.payloadTooLarge, `the CAR upload is larger than the limit of ${limit} bytes`)
    yield chunk
  }
}

export async function snapshotRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx

  // A CAR upload is streamed into the import, never buffered whole.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(CAR_TYPES, (_request, payload, done) => { done(null, payload) })

  app.get<{ Params: { '*': string } }>('/snapshots/*', {
    schema: {
      summary: 'Export the closure of a commit, tree or any CID as a CAR v1 stream (deterministic DFS order)',
      tags: ['snapshots'],
      params: { type: 'object', required: ['*'], properties: { '*': { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: { description: 'The CAR (application/vnd.ipld.car)' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs * 10)
    const root = await node.snapshots.resolveRoot(request.params['*'], { signal })
    // An export waits for a turn among the full-DAG exports (shared with the /ipfs CARs).
    if (request.method !== 'HEAD') await request.server.framehub.exports.enter(reply, signal)
    const { car } = node.snapshots.exportCar(root, { signal })
    // The first 64 KiB of the CAR are read, their blocks hash-checked, before any header is set:
    // a corrupt block there is a plain JSON error (ERR_BLOCK_CORRUPT).
    const body = request.method === 'HEAD' ? undefined : await primedStream(car)
    void reply
      .type('application/vnd.ipld.car; version=1; order=dfs; dups=n')
      .header('content-disposition', `attachment; filename="${root.toString()}.car"`)
      .header('x-ipfs-roots', root.toString())
      .header('x-content-type-options', 'nosniff')
    return await reply.send(body)
  })

  app.post<{ Body: IncomingMessage | undefined, Querystring: { branch?: string } }>('/snapshots', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Import a CAR upload: every block is hash-checked, nothing becomes visible until the DAG under its one root is complete',
      description: `Body: a CAR v1 (Content-Type ${CAR_TYPES.join(' or ')}); at most the configured CAR import limit. ` +
        'A block whose bytes do not match its CID is the upload\'s fault: 400 ERR_CAR_INVALID naming the block. ' +
        '`branch`: create this branch at the imported root, which must be a commit (409 ERR_REF_EXISTS if it exists, 400 ERR_USAGE if the root is not a commit).',
      tags: ['snapshots'],
      security: writeSecurity,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { branch: { type: 'string', minLength: 1, maxLength: 255 } }
      },
      response: { 201: { $ref: 'api-snapshot-stats.schema.json#' }, ...errorResponses, ...errors(422) }
    }
  }, async (request, reply) => {
    refuseDeclaredOver(request, limits.carImportBytes, 'CAR upload')
    const body = request.body
    if (body == null) throw new HttpError(httpCodes.badRequest, 'the request has no body: send a CAR file')
    const upload = capped(body, limits.carImportBytes)
    let stats
    try {
      stats = await node.snapshots.importCar(upload, {
        maxBytes: limits.carImportBytes,
        clientInput: true,
        branch: request.query.branch,
        signal: requestSignal(request, reply, limits.handlerTimeoutMs * 10)
      })
    } catch (err) {
      // An import that stopped early lets go of the body (a reader attached to it would keep the
      // rest from being drained), then the rest is drained so that the client gets the error.
      await upload.return(undefined)
      await drainBody(body, limits.carImportBytes)
      throw err
    }
    const view = { root: stats.root.toString(), blocks: stats.blocks, bytes: stats.bytes, ...(stats.branch != null ? { branch: stats.branch } : {}) }
    return await reply.code(201).send(view)
  })
}
