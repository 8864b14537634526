import type { FastifyInstance } from 'fastify'
import type { VerifyProgress, VerifyReport } from '../../../services/verify.ts'
import { answerWithProgress, wantsProgress } from '../../long-work.ts'
import { requestSignal } from '../../request.ts'
import { errorResponses, errors } from './context.ts'
import type { ApiContext } from './context.ts'

export async function verifyRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, limits } = ctx
  app.get<{ Querystring: { ref?: string } }>('/verify', {
    schema: {
      summary: 'The coherence check of everything reachable from a ref or CID (default HEAD)',
      description: 'Every block present and hash-valid, schema-valid, signatures valid, parents and links resolvable. Problems are reported in the body with 200; only a ref that cannot be resolved is an error. With `Accept: application/x-ndjson` the answer starts at once and streams `{"progress":{"blocks"}}` lines (at least every 5 s) then one `{"result":{...}}` or `{"error":{"code","message"}}` line.',
      tags: ['verify'],
      querystring: { type: 'object', additionalProperties: false, properties: { ref: { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: { $ref: 'api-verify-report.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const view = (report: VerifyReport): Record<string, unknown> => ({ root: report.root.toString(), ok: report.ok, blocks: report.blocks, problems: report.problems })
    if (wantsProgress(request)) {
      return await answerWithProgress<VerifyProgress, VerifyReport>(request, reply, async ({ report, signal }) =>
        await node.verifier.verify(request.query.ref, { signal, onProgress: (e) => { report(e.detail) } }), view)
    }
    return view(await node.verifier.verify(request.query.ref, { signal: requestSignal(request, reply, limits.handlerTimeoutMs * 10) }))
  })
}
