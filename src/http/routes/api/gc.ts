import type { FastifyInstance } from 'fastify'
import { checkBranchSyntax } from '../../../services/refs.ts'
import type { FrameIndexService, RebuildProgress } from '../../../services/frame-index.ts'
import type { GcProgress, GcResult } from '../../../services/gc.ts'
import { answerWithProgress, wantsProgress } from '../../long-work.ts'
import { requestSignal } from '../../request.ts'
import { gcResultView, indexStatusView, indexUpdateView } from '../../../services/views.ts'
import type * as Wire from '../../../core/api-types.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'

/** What a rebuild or catch-up did to one branch's index. */
type IndexUpdate = Awaited<ReturnType<FrameIndexService['catchUp']>>

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
      response: { 200: { $ref: 'api-gc-result.schema.json#' }, ...errorResponses }
    }
  }, async (request, reply) => {
    const dryRun = request.query.dryRun === true
    if (wantsProgress(request)) {
      return await answerWithProgress<GcProgress, GcResult>(request, reply, async ({ report, signal }) =>
        await node.gc.gc({ dryRun, signal, onProgress: (e) => { report(e.detail) } }), gcResultView)
    }
    return gcResultView(await node.gc.gc({ dryRun, signal: requestSignal(request, reply, limits.handlerTimeoutMs * 10) }))
  })

  app.get('/index', {
    schema: {
      summary: 'Where the frame index of each branch stands',
      tags: ['maintenance'],
      response: { 200: { $ref: 'api-index-status.schema.json#' }, ...errorResponses }
    }
  }, async (): Promise<Wire.IndexStatusList> => ({ branches: (await node.index.status()).map(indexStatusView) }))

  app.post<{ Querystring: { branch?: string } }>('/index/rebuild', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Rebuild the frame index of a branch (default: every branch) from its tree',
      description: 'With `Accept: application/x-ndjson` the answer starts at once and streams `{"progress":{"branch","done","total"}}` lines (at least every 5 s) then one `{"result":{"updates":[...]}}` or `{"error":{"code","message"}}` line.',
      tags: ['maintenance'],
      security: writeSecurity,
      querystring: { type: 'object', additionalProperties: false, properties: { branch: { type: 'string', minLength: 1, maxLength: 200 } } },
      response: { 200: { $ref: 'api-index-rebuild.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const { branch } = request.query
    if (branch != null) checkBranchSyntax(branch)
    const view = (updates: IndexUpdate[]): Wire.IndexRebuildResult => ({ updates: updates.map(indexUpdateView) })
    if (wantsProgress(request)) {
      return await answerWithProgress<RebuildProgress, IndexUpdate[]>(request, reply, async ({ report, signal }) =>
        await node.index.rebuild(branch, { signal, onProgress: (e) => { report(e.detail) } }), view)
    }
    return view(await node.index.rebuild(branch, { signal: requestSignal(request, reply, limits.handlerTimeoutMs * 10) }))
  })
}
