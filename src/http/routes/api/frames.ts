import type { FastifyInstance } from 'fastify'
import type { CID } from 'multiformats/cid'
import { cidString, parseCid } from '../../../core/cid.ts'
import { frameId } from '../../../core/frame.ts'
import { FrameInvalidError } from '../../../core/errors.ts'
import { httpCodes, HttpError } from '../../errors.ts'
import { decodeCursor, encodeCursor } from '../../cursor.ts'
import { requestSignal } from '../../request.ts'
import { errorResponses, errors, stagingQuerystring, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'
import type { ListFramesOptions } from '../../../services/frames.ts'
import type * as Wire from '../../../core/api-types.ts'
import { frameHistoryView, frameRecordView } from '../../../services/views.ts'

type ListQuery = Pick<ListFramesOptions, 'ref' | 'kind' | 'tag' | 'prefix' | 'after' | 'q'> & { limit: number, cursor?: string }

interface FrameCursor extends Record<string, unknown> { t: string, a: string }
const isFrameCursor = (v: Record<string, unknown>): v is FrameCursor => typeof v.t === 'string' && typeof v.a === 'string'

/** `{id}/{action}` of the routes under /frames/{id}/...: the id may hold slashes, the action is the last segment. */
function idAndAction (path: string, action: string): string {
  const suffix = `/${action}`
  const id = path.endsWith(suffix) ? path.slice(0, -suffix.length) : ''
  if (id === '') throw new HttpError(httpCodes.notFound, `no route /api/v1/frames/${path} (frame routes by id: /api/v1/frames/{id}/history, /api/v1/frames/{id}/revert, /api/v1/frames/by-id/{id})`)
  return id
}

const idParams = {
  type: 'object',
  required: ['*'],
  properties: { '*': { type: 'string', minLength: 1, maxLength: 512 } }
} as const

/** The strong ETag of a frame version: its CID, quoted. */
export const frameEtag = (cid: CID): string => `"${cid.toString()}"`

/** The conditional-write headers a frame write accepts (RFC 9110 §13.1). */
export const preconditionHeaders = {
  type: 'object',
  properties: {
    'if-match': { type: 'string', maxLength: 512, description: 'Write only if the frame\'s current version on the branch is this one: its CID as a strong ETag, `"<cid>"` (what GET sends as `ETag`). Otherwise 412 `ERR_CONFLICT`, nothing written.' },
    'if-none-match': { type: 'string', maxLength: 512, description: '`*`: write only if the branch has no frame with this id (create-only). Otherwise 412 `ERR_CONFLICT`.' }
  }
} as const

/**
 * The version a conditional write expects, from `If-Match: "<cid>"` (a CID; the quotes may be
 * left out) or `If-None-Match: *` (null: no frame); undefined without either. Anything else is 400:
 * a weak or listed tag, `If-Match: *`, a tag that is not a CID, both headers at once.
 */
export function expectedVersion (headers: Record<string, string | string[] | undefined>): CID | null | undefined {
  const ifMatch = headers['if-match']
  const ifNoneMatch = headers['if-none-match']
  if (Array.isArray(ifMatch) || Array.isArray(ifNoneMatch)) throw new HttpError(httpCodes.badRequest, 'If-Match and If-None-Match may each be given once')
  if (ifMatch != null && ifNoneMatch != null) throw new HttpError(httpCodes.badRequest, 'give If-Match (update that version) or If-None-Match: * (create only), not both')
  if (ifNoneMatch != null) {
    if (ifNoneMatch.trim() !== '*') throw new HttpError(httpCodes.badRequest, `If-None-Match on a frame write must be *, not ${JSON.stringify(ifNoneMatch)}`, { header: 'if-none-match' })
    return null
  }
  if (ifMatch == null) return undefined
  const value = ifMatch.trim()
  if (value === '*') throw new HttpError(httpCodes.badRequest, 'If-Match: * is not supported on a frame write: give the version read, "<cid>" (the ETag of GET)', { header: 'if-match' })
  if (value.startsWith('W/')) throw new HttpError(httpCodes.badRequest, 'If-Match needs a strong ETag, "<cid>", not a weak one', { header: 'if-match' })
  if (value.includes(',')) throw new HttpError(httpCodes.badRequest, 'If-Match on a frame write names one version, "<cid>", not a list', { header: 'if-match' })
  const quoted = /^"([^"]*)"$/.exec(value)
  if (quoted == null && value.includes('"')) throw new HttpError(httpCodes.badRequest, `If-Match ${JSON.stringify(ifMatch)} is not an entity tag ("<cid>")`, { header: 'if-match' })
  return parseCid(quoted?.[1] ?? value, 'If-Match')
}

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
      headers: preconditionHeaders,
      body: { $ref: 'frame.schema.json#' },
      response: { 201: { $ref: 'api-frame-record.schema.json#' }, ...errorResponses, ...errors(404, 412, 422) }
    }
  }, async (request, reply) => {
    const ifMatch = expectedVersion(request.headers)
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const record = await node.frames.put(request.body, { branch: request.query.branch, signal, source: request.query.source ?? 'request body', ifMatch })
    return await reply.code(201).header('location', `/api/v1/frames/${record.cid.toString()}`).header('etag', frameEtag(record.cid)).send(frameRecordView(record))
  })

  app.put<{ Body: unknown, Params: { '*': string }, Querystring: { branch?: string, source?: string } }>('/frames/by-id/*', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit, bodyErrorCode: 'ERR_FRAME_INVALID' },
    schema: {
      summary: 'Store a frame under its id and stage it; with If-Match or If-None-Match, only if the id is still at the version read',
      description: 'The body\'s `id` must be the id in the path. `If-Match: "<cid>"` (the `ETag` of `GET /frames/by-id/{id}`) writes only if the frame\'s current version on the branch\'s working tree is that CID, `If-None-Match: *` only if the id has no frame there; otherwise 412 `ERR_CONFLICT` and nothing is written. The check and the write are atomic with respect to every other write.',
      tags: ['frames'],
      security: writeSecurity,
      params: idParams,
      querystring: stagingQuerystring,
      headers: preconditionHeaders,
      body: { $ref: 'frame.schema.json#' },
      response: { 200: { $ref: 'api-frame-record.schema.json#' }, ...errorResponses, ...errors(404, 412, 422) }
    }
  }, async (request, reply) => {
    const ifMatch = expectedVersion(request.headers)
    const id = request.params['*']
    const bodyId = (request.body as { id?: unknown } | null)?.id
    if (typeof bodyId === 'string' && frameId(bodyId) !== frameId(id)) {
      throw new FrameInvalidError(`the frame's id "${bodyId}" is not the id in the path, "${id}"`, { id, bodyId })
    }
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const record = await node.frames.put(request.body, { branch: request.query.branch, signal, source: request.query.source ?? 'request body', ifMatch })
    return await reply.header('etag', frameEtag(record.cid)).send(frameRecordView(record))
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
    const frames: Wire.FrameRecord[] = []
    let scanned = 0
    let last: string | undefined
    let more = false
    // One frame past the page tells whether there is a next one.
    for await (const record of node.frames.list({ ref: tree, kind, tag, q, prefix, after, limit: limit + 1, signal })) {
      scanned++
      if (frames.length >= limit) { more = true; break }
      last = record.id
      frames.push(frameRecordView(record))
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
    const record = await node.frames.get(cidString(cid), { signal: requestSignal(request, reply, limits.handlerTimeoutMs) })
    return await reply.header('etag', frameEtag(record.cid)).send(frameRecordView(record))
  })

  app.get<{ Params: { '*': string }, Querystring: { ref?: string } }>('/frames/by-id/*', {
    schema: {
      summary: 'Read a frame by id at a ref (default: the current working tree)',
      description: 'The answer\'s `ETag` is the version\'s CID, `"<cid>"`: send it back as `If-Match` to write only if nobody changed the frame in between.',
      tags: ['frames'],
      params: idParams,
      querystring: { type: 'object', additionalProperties: false, properties: { ref: { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: { $ref: 'api-frame-record.schema.json#' }, 304: { description: 'Not modified (If-None-Match names the current version)', type: 'null' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    // Looked up in the tree even when the id happens to parse as a CID.
    const record = await node.frames.get(request.params['*'], { ref: request.query.ref, byId: true, signal })
    // The version's CID is its strong ETag: what a conditional write (If-Match) names.
    const etag = frameEtag(record.cid)
    void reply.header('etag', etag).header('cache-control', 'no-cache')
    if (request.headers['if-none-match'] === etag) return await reply.code(304).send()
    return await reply.send(frameRecordView(record))
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
      headers: { type: 'object', properties: { 'if-match': preconditionHeaders.properties['if-match'] } },
      response: { 200: { $ref: 'api-frame-remove-result.schema.json#' }, ...errorResponses, ...errors(404, 412) }
    }
  }, async (request, reply) => {
    const ifMatch = expectedVersion({ 'if-match': request.headers['if-match'] })
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const result = await node.frames.remove(request.params['*'], { branch: request.query.branch, signal, ifMatch })
    return { id: result.id, tree: result.tree.toString() }
  })
  app.get<{ Params: { '*': string }, Querystring: { ref?: string, limit?: number } }>('/frames/*', {
    schema: {
      summary: 'Every version of a frame on a branch, newest first, with the commit and the trace steps behind each: GET /frames/{id}/history',
      description: 'The path is `/api/v1/frames/{id}/history` (the id may hold slashes; an id that starts with `by-id/` cannot be named here: that path reads a frame). Read through the Merkle trees, one lookup of the id per commit walked (O(log n) blocks each), never a whole tree. Each version lists the trace steps whose `outputs` name its CID, found from the session heads that the commits walked recorded (and, for `staged`, the sessions not yet committed), back through step parents, at most 10,000 steps read (`stepsComplete: false` past that). 404 `ERR_FRAME_NOT_FOUND` when the id has no version there.',
      tags: ['frames'],
      params: idParams,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ref: { type: 'string', minLength: 1, maxLength: 256, description: 'Branch (default: the current one; its working tree gives `staged`) or any REF (commit CID, HEAD~N)' },
          limit: { type: 'integer', minimum: 1, maximum: 10000, description: 'At most this many versions' }
        }
      },
      response: { 200: { $ref: 'api-frame-history.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const id = idAndAction(request.params['*'], 'history')
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    return frameHistoryView(await node.frames.history(id, { ref: request.query.ref, limit: request.query.limit, signal }))
  })

  app.post<{ Params: { '*': string }, Querystring: { branch?: string }, Body: { to: string } }>('/frames/*', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Stage an earlier version of a frame: POST /frames/{id}/revert',
      description: 'The path is `/api/v1/frames/{id}/revert`. `to` is the CID of a frame whose id is `{id}` (a version its history lists); any other CID is 404 `ERR_FRAME_NOT_FOUND`, a malformed one 400 `ERR_CID_INVALID`. Takes `If-Match` / `If-None-Match` as a frame write does.',
      tags: ['frames'],
      security: writeSecurity,
      params: idParams,
      querystring: { type: 'object', additionalProperties: false, properties: { branch: { type: 'string', minLength: 1, maxLength: 200 } } },
      headers: preconditionHeaders,
      body: { $ref: 'api-frame-revert-request.schema.json#' },
      response: { 200: { $ref: 'api-frame-record.schema.json#' }, ...errorResponses, ...errors(404, 412, 422) }
    }
  }, async (request, reply) => {
    const id = idAndAction(request.params['*'], 'revert')
    const to = parseCid(request.body.to, 'revert target (to)')
    const ifMatch = expectedVersion(request.headers)
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const record = await node.frames.revert(id, to, { branch: request.query.branch, ifMatch, signal })
    return await reply.header('etag', frameEtag(record.cid)).send(frameRecordView(record))
  })
}
