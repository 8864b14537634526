import type { FastifyInstance } from 'fastify'
import type { CID } from 'multiformats/cid'
import { cidString, parseCid } from '../../../core/codec.ts'
import { frameToJson } from '../../../core/frame.ts'
import type { Frame } from '../../../core/frame.ts'
import { decodeCursor, encodeCursor, requestSignal } from '../../util.ts'
import { errorResponses, errors, stagingQuerystring, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'
import type { ListFramesOptions } from '../../../services/frames.ts'

type ListQuery = Pick<ListFramesOptions, 'ref' | 'kind' | 'tag' | 'prefix' | 'after' | 'q'> & { limit: number, cursor?: string }

interface FrameCursor extends Record<string, unknown> { t: string, a: string }
const isFrameCursor = (v: Record<string, unknown>): v is FrameCursor => typeof v.t === 'string' && typeof v.a === 'string'

const recordView = (r: { id: string, cid: CID, frame: Frame }): { id: string, cid: string, frame: Record<string, unknown> } =>
  ({ id: r.id, cid: cidString(r.cid), frame: frameToJson(r.frame) })

const idParams = {
  type: 'object',
  required: ['*'],
  properties: { '*': { type: 'string', minLength: 1, maxLength: 512 } }
} as const

export async function frameRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx

  app.post<{ Body: unknown, Querystring: { branch?: string, source?: string } }>('/frames', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit, bodyErrorCode: 'ERR_FRAME_INVALID' },
    schema: {
      summary: 'Store a frame and stage it in a branch\'s working tree',
      tags: ['frames'],
      security: writeSecurity,
      querystring: stagingQuerystring,
      body: { $ref: 'frame.schema.json#' },
      response: { 201: { $ref: 'api-frame-record.schema.json#' }, ...errorResponses, ...errors(404, 422) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const record = await node.frames.put(request.body, { branch: request.query.branch, signal, source: request.query.source ?? 'request body' })
    return await reply.code(201).header('location', `/api/v1/frames/${record.cid.toString()}`).send(recordView(record))
  })

  app.get<{ Querystring: ListQuery }>('/frames', {
    schema: {
      summary: 'List frames in id order, filtered; paginated with an opaque cursor',
      description: 'Filters: kind, tag, id prefix, and q (words: a frame matches when every word of q is among the words of its title and body, case-insensitive; the first 256 distinct words of a frame count, words are cut to 64 characters). kind, tag and q are answered from the frame index of a branch, overlaid with the changes from its commit to the tree asked for (e.g. staged frames): a page costs what it returns, not a scan. The cursor pins the tree of the first page.',
      tags: ['frames'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ref: { type: 'string', minLength: 1, maxLength: 256, description: 'Branch, commit CID or tree CID; default the current working tree' },
          kind: { type: 'string', minLength: 1, maxLength: 64 },
          tag: { type: 'string', minLength: 1, maxLength: 128 },
          prefix: { type: 'string', minLength: 1, maxLength: 512 },
          after: { type: 'string', minLength: 1, maxLength: 512, description: 'Only ids after this one (ignored with a cursor)' },
          q: { type: 'string', minLength: 1, maxLength: 256 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          cursor: { type: 'string', minLength: 1, maxLength: 2048 }
        }
      },
      response: { 200: { $ref: 'api-frame-list.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const { ref, kind, tag, prefix, q, limit, cursor } = request.query
    let tree: string
    let after = request.query.after
    if (cursor != null) {
      const c = decodeCursor(cursor, isFrameCursor)
      tree = parseCid(c.t, 'cursor tree').toString()
      after = c.a
    } else {
      tree = (await node.refs.resolveTree(ref, { signal })).tree.toString()
    }
    const frames: Array<ReturnType<typeof recordView>> = []
    let scanned = 0
    let last: string | undefined
    let more = false
    // One frame past the page tells whether there is a next one.
    for await (const record of node.frames.list({ ref: tree, kind, tag, q, prefix, after, limit: limit + 1, signal })) {
      scanned++
      if (frames.length >= limit) { more = true; break }
      last = record.id
      frames.push(recordView(record))
    }
    return { tree, frames, scanned, cursor: more && last != null ? encodeCursor({ t: tree, a: last }) : null }
  })

  app.get<{ Params: { cid: string } }>('/frames/:cid', {
    schema: {
      summary: 'Read a frame by CID',
      tags: ['frames'],
      params: { type: 'object', required: ['cid'], properties: { cid: { type: 'string', maxLength: 256 } } },
      response: { 200: { $ref: 'api-frame-record.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const cid = parseCid(request.params.cid, 'frame CID')
    return recordView(await node.frames.get(cidString(cid), { signal: requestSignal(request, reply, limits.handlerTimeoutMs) }))
  })

  app.get<{ Params: { '*': string }, Querystring: { ref?: string } }>('/frames/by-id/*', {
    schema: {
      summary: 'Read a frame by id at a ref (default: the current working tree)',
      tags: ['frames'],
      params: idParams,
      querystring: { type: 'object', additionalProperties: false, properties: { ref: { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: { $ref: 'api-frame-record.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    // Looked up in the tree even when the id happens to parse as a CID.
    return recordView(await node.frames.get(request.params['*'], { ref: request.query.ref, byId: true, signal }))
  })

  app.delete<{ Params: { '*': string }, Querystring: { branch?: string } }>('/frames/by-id/*', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Stage the removal of a frame id from a branch\'s working tree',
      tags: ['frames'],
      security: writeSecurity,
      params: idParams,
      querystring: { type: 'object', additionalProperties: false, properties: { branch: { type: 'string', minLength: 1, maxLength: 200 } } },
      response: { 200: { $ref: 'api-frame-remove-result.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const result = await node.frames.remove(request.params['*'], { branch: request.query.branch, signal })
    return { id: result.id, tree: result.tree.toString() }
  })
}
