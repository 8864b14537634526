import type { FastifyInstance } from 'fastify'
import { CID } from 'multiformats/cid'
import { cidString, parseCid } from '../../../core/cid.ts'
import { requestSignal } from '../../request.ts'
import { errorResponses, errors } from './context.ts'
import type { ApiContext } from './context.ts'

interface ReferrersQuery { to: string | string[], ref?: string, limit: number, scan: number }

/**
 * `GET /referrers?to=CID`: the frames of a tree whose `links` name a CID (the frames that link to
 * a frame version), for the explorer's "links from other frames". There is no index of links yet:
 * the tree's frames are read in id order, at most `scan` of them, and `complete` says whether the
 * whole tree was read.
 */
export async function referrerRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, limits } = ctx
  app.get<{ Querystring: ReferrersQuery }>('/referrers', {
    schema: {
      summary: 'Frames whose links name a CID (frames linking to a frame version), by reading the tree',
      description: '`to` may be given up to 64 times (e.g. every version of a frame). No links index yet: at most `scan` frames of the tree are read, in id order; `complete` is false when the tree has more.',
      tags: ['frames'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['to'],
        properties: {
          to: {
            anyOf: [
              { type: 'string', minLength: 1, maxLength: 256 },
              { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 256 } }
            ]
          },
          ref: { type: 'string', minLength: 1, maxLength: 256, description: 'Branch, commit CID or tree CID; default the current working tree' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          scan: { type: 'integer', minimum: 1, maximum: 1000000, default: 100000 }
        }
      },
      response: {
        200: {
          type: 'object',
          required: ['tree', 'referrers', 'scanned', 'complete'],
          additionalProperties: false,
          properties: {
            tree: { type: 'string' },
            referrers: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'cid', 'to'],
                additionalProperties: false,
                properties: { id: { type: 'string' }, cid: { type: 'string' }, to: { type: 'string' }, rel: { type: 'string' } }
              }
            },
            scanned: { type: 'integer' },
            complete: { type: 'boolean', description: 'false: the scan or the limit stopped before the end of the tree' }
          }
        },
        ...errorResponses,
        ...errors(404)
      }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const { ref, limit, scan } = request.query
    const wanted = new Map((Array.isArray(request.query.to) ? request.query.to : [request.query.to]).map((t, i) => {
      const cid = parseCid(t, `querystring/to${Array.isArray(request.query.to) ? `/${i}` : ''}`)
      return [cidString(cid), cid] as const
    }))
    const tree = await node.refs.resolveTree(ref, { signal })
    const referrers: Array<{ id: string, cid: string, to: string, rel?: string }> = []
    let scanned = 0
    let complete = true
    for await (const record of node.frames.list({ ref: tree.tree.toString(), signal })) {
      if (scanned >= scan || referrers.length >= limit) { complete = false; break }
      scanned++
      for (const link of record.frame.links ?? []) {
        const target = CID.asCID(link.cid)
        const text = target != null ? cidString(target) : undefined
        if (text == null || !wanted.has(text)) continue
        referrers.push({ id: record.id, cid: cidString(record.cid), to: text, ...(link.rel != null ? { rel: link.rel } : {}) })
      }
    }
    return { tree: tree.tree.toString(), referrers, scanned, complete }
  })
}
