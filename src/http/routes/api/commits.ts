import type { FastifyInstance } from 'fastify'
import { parseCid } from '../../../core/cid.ts'
import { toJsonView } from '../../../core/json-view.ts'
import type { Commit, ForkRecord } from '../../../core/commit.ts'
import { checkBranchSyntax } from '../../../services/refs.ts'
import { decodeCursor, encodeCursor } from '../../cursor.ts'
import { requestSignal } from '../../request.ts'
import { cidsText, maybeCidText } from '../../cid-text.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type * as Wire from '../../../core/api-types.ts'
import { branchView, changeView } from '../../../services/views.ts'
import type { ApiContext } from './context.ts'

interface LogCursor extends Record<string, unknown> { h: string, n: number }
const isLogCursor = (v: Record<string, unknown>): v is LogCursor => typeof v.h === 'string' && Number.isSafeInteger(v.n) && (v.n as number) > 0

const forkView = (f: ForkRecord & { branch?: string, merge?: { toString(): string }, from?: { toString(): string } }): Record<string, unknown> => {
  const out: Record<string, unknown> = { id: f.id, ours: maybeCidText(f.ours), theirs: maybeCidText(f.theirs) }
  if (f.branch != null) out.branch = f.branch
  if (f.merge != null) out.merge = f.merge.toString()
  if (f.from != null) out.from = f.from.toString()
  return out
}

const refText = { type: 'string', minLength: 1, maxLength: 256 } as const

interface LogQuery { ref?: string, limit: number, cursor?: string }
const logQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ref: refText,
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
    cursor: { type: 'string', minLength: 1, maxLength: 1024 }
  }
} as const

export async function commitRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx

  app.post<{ Body: { message: string, allowEmpty?: boolean } }>('/commits', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Commit the working tree of the current branch (signed by the node)',
      tags: ['commits'],
      security: writeSecurity,
      body: { $ref: 'api-commit-request.schema.json#' },
      response: { 201: { $ref: 'api-commit-result.schema.json#' }, ...errorResponses, ...errors(404, 409, 422) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const result = await node.commits.commit({ message: request.body.message, allowEmpty: request.body.allowEmpty, signal })
    const view = {
      commit: result.commit.toString(),
      tree: result.tree.toString(),
      branch: result.branch,
      parents: cidsText(result.parents),
      sessions: cidsText(result.sessions)
    }
    return await reply.code(201).send(view)
  })

  /**
   * One page of the history under `ref` (or the cursor's head), each commit mapped by `view`. The
   * order of a merge history is only defined from its head, so a page re-walks the pages before it
   * (no commit index yet).
   */
  const logPage = async <T>(query: LogQuery, view: (cid: string, commit: Commit) => T, signal: AbortSignal): Promise<{ items: T[], cursor: string | null }> => {
    const { ref, limit, cursor } = query
    let head: string
    let skip = 0
    if (cursor != null) {
      const c = decodeCursor(cursor, isLogCursor)
      head = parseCid(c.h, 'cursor head').toString()
      skip = c.n
    } else {
      head = (await node.refs.resolveCommit(ref ?? 'HEAD', { signal })).toString()
    }
    const items: T[] = []
    let seen = 0
    let more = false
    for await (const entry of node.commits.log(head, { signal })) {
      if (seen++ < skip) continue
      if (items.length >= limit) { more = true; break }
      items.push(view(entry.cid.toString(), entry.commit))
    }
    return { items, cursor: more ? encodeCursor({ h: head, n: skip + items.length }) : null }
  }

  app.get<{ Querystring: LogQuery }>('/commits', {
    schema: {
      summary: 'History under a ref, newest first (git log), paginated',
      tags: ['commits'],
      querystring: logQuery,
      response: { 200: { $ref: 'api-commit-log.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const page = await logPage(request.query, (cid, commit) => ({ cid, commit: toJsonView(commit) }), signal)
    return { commits: page.items, cursor: page.cursor }
  })

  app.get<{ Querystring: LogQuery }>('/commit-graph', {
    schema: {
      summary: 'History under a ref as a graph, newest first, paginated like GET /commits: each commit\'s parents, message, time and forks kept, nothing else',
      tags: ['commits'],
      querystring: logQuery,
      response: { 200: { $ref: 'api-commit-graph.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const page = await logPage(request.query, (cid, commit) => ({ cid, parents: cidsText(commit.parents), message: commit.message, time: commit.time, forks: commit.forks?.length ?? 0 }), signal)
    return { commits: page.items, cursor: page.cursor }
  })

  app.get<{ Params: { '*': string } }>('/commits/*', {
    schema: {
      summary: 'Show what a CID or ref names (commit, tree node, frame, trace step or other block), decoded',
      tags: ['commits'],
      params: { type: 'object', required: ['*'], properties: { '*': refText } },
      response: { 200: { $ref: 'api-shown-block.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const shown = await node.commits.show(request.params['*'], { signal: requestSignal(request, reply, limits.handlerTimeoutMs) })
    return { type: shown.type, cid: shown.cid.toString(), value: shown.value }
  })

  app.get<{ Querystring: { from?: string, to?: string } }>('/diff', {
    schema: {
      summary: 'Frame-level differences between two versions (default: HEAD → working tree)',
      tags: ['commits'],
      querystring: { type: 'object', additionalProperties: false, properties: { from: refText, to: refText } },
      response: { 200: { $ref: 'api-diff-result.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const d = await node.commits.diff(request.query.from, request.query.to, { signal: requestSignal(request, reply, limits.handlerTimeoutMs) })
    const out: Wire.DiffResult = { added: d.added.map(changeView), removed: d.removed.map(changeView), changed: d.changed.map(changeView) }
    return out
  })

  app.post<{ Body: { ref: string, message?: string } }>('/merge', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Three-way merge of a ref into the current branch; conflicts are kept as forks',
      tags: ['commits'],
      security: writeSecurity,
      body: { $ref: 'api-merge-request.schema.json#' },
      response: { 200: { $ref: 'api-merge-result.schema.json#' }, ...errorResponses, ...errors(404, 409, 422) }
    }
  }, async (request, reply) => {
    const signal = requestSignal(request, reply, limits.handlerTimeoutMs)
    const result = await node.commits.merge(request.body.ref, { message: request.body.message, signal })
    return { commit: result.commit.toString(), mode: result.mode, forks: result.forks.map(forkView) }
  })

  app.get<{ Querystring: { branch?: string, limit: number } }>('/forks', {
    schema: {
      summary: 'Forks kept by merges (the losing versions of frames changed two ways)',
      tags: ['commits'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { branch: { type: 'string', minLength: 1, maxLength: 200 }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 } }
      },
      response: { 200: { $ref: 'api-fork-list.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request) => {
    if (request.query.branch != null) checkBranchSyntax(request.query.branch)
    const forks: Array<Record<string, unknown>> = []
    for await (const f of node.commits.forks({ branch: request.query.branch })) {
      forks.push(forkView(f))
      if (forks.length >= request.query.limit) break
    }
    return { forks }
  })

  app.get('/branches', {
    schema: {
      summary: 'Branches and the commits they point to, and the checked-out branch (which may have no commit yet)',
      tags: ['refs'],
      response: { 200: { $ref: 'api-branch-list.schema.json#' }, ...errorResponses }
    }
  }, async () => {
    const branches = await node.refs.listBranches()
    const current = await node.refs.currentBranch()
    return { current, branches: branches.map(branchView) }
  })

  app.post<{ Body: { name: string, start?: string } }>('/branches', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Create a branch (at HEAD or `start`)',
      tags: ['refs'],
      security: writeSecurity,
      body: { $ref: 'api-branch-create.schema.json#' },
      response: { 201: { $ref: 'api-branch.schema.json#' }, ...errorResponses, ...errors(404, 409) }
    }
  }, async (request, reply) => {
    const b = await node.refs.createBranch(request.body.name, request.body.start)
    return await reply.code(201).send({ name: b.name, commit: b.commit.toString(), current: b.current })
  })

  app.delete<{ Params: { '*': string } }>('/branches/*', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Delete a branch (not the checked-out one)',
      tags: ['refs'],
      security: writeSecurity,
      params: { type: 'object', required: ['*'], properties: { '*': { type: 'string', minLength: 1, maxLength: 200 } } },
      response: { 204: { type: 'null' }, ...errorResponses, ...errors(404, 409) }
    }
  }, async (request, reply) => {
    const name = request.params['*']
    // Any existing branch can be deleted, also one whose name reads as a CID (made before such names were refused).
    checkBranchSyntax(name)
    await node.refs.deleteBranch(name)
    return await reply.code(204).send()
  })
}
