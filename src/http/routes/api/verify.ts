import type { FastifyInstance } from 'fastify'
import { requestSignal } from '../../util.ts'
import { errorResponses, errors } from './context.ts'
import type { ApiContext } from './context.ts'

export async function verifyRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, limits } = ctx
  app.get<{ Querystring: { ref?: string } }>('/verify', {
    schema: {
      summary: 'The coherence check of everything reachable from a ref or CID (default HEAD)',
      description: 'Every block present and hash-valid, schema-valid, signatures valid, parents and links resolvable. Problems are reported in the body with 200; only a ref that cannot be resolved is an error.',
      tags: ['verify'],
      querystring: { type: 'object', additionalProperties: false, properties: { ref: { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: { $ref: 'api-verify-report.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const report = await node.verifier.verify(request.query.ref, { signal: requestSignal(request, reply, limits.handlerTimeoutMs * 10) })
    return { root: report.root.toString(), ok: report.ok, blocks: report.blocks, problems: report.problems }
  })
}
