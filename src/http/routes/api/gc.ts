import type { FastifyInstance } from 'fastify'
import { checkBranchSyntax } from '../../../services/refs.ts'
import type { FrameIndexService, IndexStatus, RebuildProgress } from '../../../services/frame-index.ts'
import type { GcProgress, GcResult } from '../../../services/gc.ts'
import { answerWithProgress, wantsProgress } from '../../long-work.ts'
import { requestSignal } from '../../request.ts'
import { maybeCidText } from '../../cid-text.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'

/** What a rebuild or catch-up did to one branch's index. */
type IndexUpdate = Awaited<ReturnType<FrameIndexService['catchUp']>>

const cidOrNull = { type: ['string', 'null'] } as const

const gcResult = {
  type: 'object',
  required: ['removed', 'kept', 'bytesFreed', 'dryRun'],
  additionalProperties: false,
  properties: {
    removed: { type: 'integer', minimum: 0, description: 'Blocks removed (with dryRun: that would be removed)' },
    kept: { type: 'integer', minimum: 0, description: 'Blocks kept: reachable from a ref, a working tree, a fork, a session or a pin' },
    bytesFreed: { type: 'integer', minimum: 0 },
    dryRun: { type: 'boolean' }
  }
} as const

const indexStatus = {
  type: 'object',
  required: ['branch', 'head', 'indexed', 'current'],
  additionalProperties: false,
  properties: {
    branch: { type: 'string' },
    head: { ...cidOrNull, description: 'The branch\'s committed tree (null: no commits)' },
    indexed: { ...cidOrNull, description: 'The tree the index describes (null: to be rebuilt)' },
    current: { type: 'boolean' }
  }
} as const

const indexUpdate = {
  type: 'object',
  required: ['branch', 'mode', 'tree', 'frames', 'keys'],
  additionalProperties: false,
  properties: {
    branch: { type: 'string' },
    mode: { type: 'string', enum: ['current', 'incremental', 'rebuild', 'drop'] },
    tree: cidOrNull,
    frames: { type: 'integer', minimum: 0 },
    keys: { type: 'integer', minimum: 0 }
  }
} as const

export const statusView = (s: IndexStatus): Record<string, unknown> =>
  ({ branch: s.branch, head: maybeCidText(s.head), indexed: maybeCidText(s.indexed), current: s.current })
export const updateView = (u: IndexUpdate): Record<string, unknown> =>
  ({ branch: u.branch, mode: u.mode, tree: maybeCidText(u.tree), frames: u.frames, keys: u.keys })

/** Repository maintenance: garbage collection and the frame index. */
export async function gcRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx

  app.post<{ Querystring: { dryRun?: boolean } }>('/gc', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Remove every block that no ref, working tree, fork, session head or pin reaches',
      description: 'Runs under the repository\'s write lock (writes wait until it is done). With dryRun, counts what would go and removes nothing. With `Accept: application/x-ndjson` the answer starts at once and streams `{"progress":{"phase","blocks"}}` lines (at least every 5 s) then one `{"result":{...}}` or `{"error":{"code","message"}}` line.',
      tags: ['maintenance'],
      security: writeSecurity,
      querystring: { type: 'object', additionalProperties: false, properties: { dryRun: { type: 'boolean', default: false } } },
      response: { 200: gcResult, ...errorResponses }
    }
  }, async (request, reply) => {
    const dryRun = request.query.dryRun === true
    const view = (r: GcResult): Record<string, unknown> => ({ removed: r.removed, kept: r.kept, bytesFreed: r.bytesFreed, dryRun: r.dryRun })
    if (wantsProgress(request)) {
      return await answerWithProgress<GcProgress, GcResult>(request, reply, async ({ report, signal }) =>
        await node.gc.gc({ dryRun, signal, onProgress: (e) => { report(e.detail) } }), view)
    }
    return view(await node.gc.gc({ dryRun, signal: requestSignal(request, reply, limits.handlerTimeoutMs * 10) }))
  })

  app.get('/index', {
    schema: {
      summary: 'Where the frame index of each branch stands',
      tags: ['maintenance'],
      response: { 200: { type: 'object', required: ['branches'], additionalProperties: false, properties: { branches: { type: 'array', items: indexStatus } } }, ...errorResponses }
    }
  }, async () => ({ branches: (await node.index.status()).map(statusView) }))

  app.post<{ Querystring: { branch?: string } }>('/index/rebuild', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Rebuild the frame index of a branch (default: every branch) from its tree',
      description: 'With `Accept: application/x-ndjson` the answer starts at once and streams `{"progress":{"branch","done","total"}}` lines (at least every 5 s) then one `{"result":{"updates":[...]}}` or `{"error":{"code","message"}}` line.',
      tags: ['maintenance'],
      security: writeSecurity,
      querystring: { type: 'object', additionalProperties: false, properties: { branch: { type: 'string', minLength: 1, maxLength: 200 } } },
      response: { 200: { type: 'object', required: ['updates'], additionalProperties: false, properties: { updates: { type: 'array', items: indexUpdate } } }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const { branch } = request.query
    if (branch != null) checkBranchSyntax(branch)
    const view = (updates: IndexUpdate[]): Record<string, unknown> => ({ updates: updates.map(updateView) })
    if (wantsProgress(request)) {
      return await answerWithProgress<RebuildProgress, IndexUpdate[]>(request, reply, async ({ report, signal }) =>
        await node.index.rebuild(branch, { signal, onProgress: (e) => { report(e.detail) } }), view)
    }
    return view(await node.index.rebuild(branch, { signal: requestSignal(request, reply, limits.handlerTimeoutMs * 10) }))
  })
}
