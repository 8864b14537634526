import type { FastifyInstance } from 'fastify'
import { checkBranchSyntax } from '../../../services/refs.ts'
import { httpCodes, HttpError } from '../../errors.ts'
import { requestSignal } from '../../request.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'

const refText = { type: 'string', minLength: 1, maxLength: 256 } as const

/** HEAD, the state of a branch, ref resolution and checkout (branches themselves are in commits.ts). */
export async function refRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx

  app.get<{ Querystring: { branch?: string } }>('/head', {
    schema: {
      summary: 'The checked-out branch (or `branch`): its commit and its working tree',
      tags: ['refs'],
      querystring: { type: 'object', additionalProperties: false, properties: { branch: { type: 'string', minLength: 1, maxLength: 200 } } },
      response: { 200: { $ref: 'api-head.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request) => {
    const current = await node.refs.currentBranch()
    const branch = request.query.branch ?? current
    // A lookup: an existing branch is shown whatever its name (see checkBranchSyntax).
    checkBranchSyntax(branch)
    const commit = await node.refs.branchHead(branch)
    return { branch, current: branch === current, commit: commit?.toString() ?? null, workingTree: (await node.refs.workingTree(branch)).toString() }
  })

  app.get<{ Querystring: { ref?: string, as: 'commit' | 'tree' | 'root' } }>('/resolve', {
    schema: {
      summary: 'What a ref spec (HEAD, HEAD~N, a branch, a CID) names',
      description: 'A ref is read in this order: `HEAD`; `refs/heads/NAME` (branch NAME); text that parses as a CID in any multibase (always the CID, never a branch); a branch name; each with an optional `~N`. A ref that names nothing is `ERR_REF_NOT_FOUND` (404), or `ERR_CID_INVALID` (400) when it looks like a mistyped CID. `as=commit` (default): the commit (`ref` defaults to HEAD). `as=tree`: its tree, and its commit unless `ref` is a tree CID (no `ref`: the working tree). `as=root`: the root a snapshot export of `ref` writes (any stored CID, or a commit).',
      tags: ['refs'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { ref: refText, as: { type: 'string', enum: ['commit', 'tree', 'root'], default: 'commit' } }
      },
      response: { 200: { $ref: 'api-resolved.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const { ref, as } = request.query
    if (as === 'commit') return { commit: (await node.refs.resolveCommit(ref ?? 'HEAD', { signal })).toString() }
    if (as === 'tree') {
      const r = await node.refs.resolveTree(ref, { signal })
      return r.commit == null ? { tree: r.tree.toString() } : { commit: r.commit.toString(), tree: r.tree.toString() }
    }
    if (ref == null) throw new HttpError(httpCodes.validation, 'querystring/ref is required with as=root')
    return { root: (await node.snapshots.resolveRoot(ref, { signal })).toString() }
  })

  app.post<{ Body: { branch: string, create?: boolean } }>('/checkout', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Switch to a branch (each branch keeps its own staged frames); `create` makes it at HEAD first',
      tags: ['refs'],
      security: writeSecurity,
      body: { $ref: 'api-checkout-request.schema.json#' },
      response: { 200: { $ref: 'api-checkout-result.schema.json#' }, ...errorResponses, ...errors(404, 409) }
    }
  }, async (request) => {
    const r = await node.refs.checkout(request.body.branch, { create: request.body.create })
    return r.commit == null ? { branch: r.branch } : { branch: r.branch, commit: r.commit.toString() }
  })
}
