import type { FastifyInstance } from 'fastify'
import type { CID } from 'multiformats/cid'
import { parseCid } from '../../../core/cid.ts'
import { toJsonView } from '../../../core/json-view.ts'
import { checkSessionName } from '../../../core/trace-step.ts'
import type { TraceStep } from '../../../core/trace-step.ts'
import { httpCodes, HttpError } from '../../errors.ts'
import { decodeCursor, encodeCursor } from '../../cursor.ts'
import { requestSignal } from '../../request.ts'
import { cidsText } from '../../cid-text.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'

interface StepCursor extends Record<string, unknown> { s: string, n: number }
interface SessionCursor extends Record<string, unknown> { a: string }
const isSessionCursor = (v: Record<string, unknown>): v is SessionCursor => typeof v.a === 'string'
const isStepCursor = (v: Record<string, unknown>): v is StepCursor => typeof v.s === 'string' && Number.isSafeInteger(v.n) && (v.n as number) > 0

const sessionParams = {
  type: 'object',
  required: ['session'],
  properties: { session: { type: 'string', minLength: 1, maxLength: 256, description: 'Session name, URL-encoded (a/b is a%2Fb)' } }
} as const

interface StepQuery { limit: number, cursor?: string }
const stepQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, cursor: { type: 'string', minLength: 1, maxLength: 1024 } }
} as const

/** Characters of a step's content in its graph view. */
const STEP_TEXT_MAX = 120

/** A step's content as a short text: a string as it is, anything else as its DAG-JSON, cut (by code point) at STEP_TEXT_MAX. */
export function stepText (content: unknown): string {
  const text = typeof content === 'string' ? content : JSON.stringify(toJsonView(content)) ?? ''
  if (text.length <= STEP_TEXT_MAX) return text
  let out = ''
  let n = 0
  for (const ch of text) {
    if (n++ === STEP_TEXT_MAX) break
    out += ch
  }
  return out
}

export async function traceRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx

  app.get<{ Querystring: { limit: number, cursor?: string } }>('/sessions', {
    schema: {
      summary: 'Reasoning sessions and their heads, by name, paginated',
      tags: ['traces'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 }, cursor: { type: 'string', minLength: 1, maxLength: 1024 } }
      },
      response: { 200: { $ref: 'api-session-list.schema.json#' }, ...errorResponses }
    }
  }, async (request) => {
    const { limit, cursor } = request.query
    const after = cursor != null ? Buffer.from(decodeCursor(cursor, isSessionCursor).a) : undefined
    const sessions: Array<{ session: string, heads: string[] }> = []
    let more = false
    // Sessions come in the store's key order (UTF-8 bytes); the service has no range scan yet, so a
    // page skips the ones before it.
    for await (const s of node.traces.sessions()) {
      if (after != null && Buffer.compare(Buffer.from(s.session), after) <= 0) continue
      if (sessions.length >= limit) { more = true; break }
      sessions.push({ session: s.session, heads: cidsText(s.heads) })
    }
    const last = sessions.at(-1)
    return { sessions, cursor: more && last != null ? encodeCursor({ a: last.session }) : null }
  })

  app.post<{ Params: { session: string }, Body: { step: unknown, parents?: string[] } }>('/sessions/:session/steps', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit, bodyErrorCode: 'ERR_TRACE_STEP_INVALID' },
    schema: {
      summary: 'Append a signed step to a session',
      tags: ['traces'],
      security: writeSecurity,
      params: sessionParams,
      body: { $ref: 'api-step-append.schema.json#' },
      response: { 201: { $ref: 'api-append-result.schema.json#' }, ...errorResponses, ...errors(404, 422) }
    }
  }, async (request, reply) => {
    const { session } = request.params
    const parents: CID[] | undefined = request.body.parents?.map(p => parseCid(p, 'parent'))
    const result = await node.traces.append(session, request.body.step, { parents, signal: requestSignal(request, reply, limits.handlerTimeoutMs) })
    const view = { cid: result.cid.toString(), session: result.session, parents: cidsText(result.parents), heads: cidsText(result.heads) }
    return await reply.code(201).header('location', `/api/v1/sessions/${encodeURIComponent(session)}/steps`).send(view)
  })

  /** One page of a session's steps, each mapped by `view`. */
  const stepPage = async <T>(session: string, query: StepQuery, view: (cid: string, step: TraceStep) => T, signal: AbortSignal): Promise<{ items: T[], cursor: string | null }> => {
    checkSessionName(session)
    const { limit, cursor } = query
    let skip = 0
    if (cursor != null) {
      const c = decodeCursor(cursor, isStepCursor)
      if (c.s !== session) throw new HttpError(httpCodes.validation, 'querystring/cursor belongs to another session')
      skip = c.n
    }
    // The service orders the whole session in memory; a page skips what came before.
    const items: T[] = []
    let seen = 0
    let more = false
    for await (const record of node.traces.show(session, { signal })) {
      if (seen++ < skip) continue
      if (items.length >= limit) { more = true; break }
      items.push(view(record.cid.toString(), record.step))
    }
    return { items, cursor: more ? encodeCursor({ s: session, n: skip + items.length }) : null }
  }

  app.get<{ Params: { session: string }, Querystring: StepQuery }>('/sessions/:session/steps', {
    schema: {
      summary: 'A session\'s steps in causal order (parents first), paginated',
      tags: ['traces'],
      params: sessionParams,
      querystring: stepQuery,
      response: { 200: { $ref: 'api-step-list.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const { session } = request.params
    const page = await stepPage(session, request.query, (cid, step) => ({ cid, step: toJsonView(step) }), requestSignal(request, reply, limits.handlerTimeoutMs))
    return { session, steps: page.items, cursor: page.cursor }
  })

  app.get<{ Params: { session: string }, Querystring: StepQuery }>('/sessions/:session/graph', {
    schema: {
      summary: 'A session\'s steps as a graph, in causal order, paginated like GET .../steps: each step\'s parents, op, writer and a short text of its content, nothing else',
      tags: ['traces'],
      params: sessionParams,
      querystring: stepQuery,
      response: { 200: { $ref: 'api-step-graph.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const { session } = request.params
    const page = await stepPage(session, request.query, (cid, step) => ({ cid, parents: cidsText(step.parents), op: step.op, node: step.node, text: stepText(step.content) }), requestSignal(request, reply, limits.handlerTimeoutMs))
    return { session, steps: page.items, cursor: page.cursor }
  })

  app.get<{ Params: { session: string } }>('/sessions/:session/heads', {
    schema: {
      summary: 'A session\'s heads (its open routes)',
      tags: ['traces'],
      params: sessionParams,
      response: { 200: { $ref: 'api-session.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request) => {
    const { session } = request.params
    return { session, heads: cidsText(await node.traces.heads(session)) }
  })

  app.get<{ Params: { session: string }, Querystring: { limit: number } }>('/sessions/:session/routes', {
    schema: {
      summary: 'The distinct routes of a session, each from a head back to a root',
      tags: ['traces'],
      params: sessionParams,
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } } },
      response: { 200: { $ref: 'api-routes.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => {
    const { session } = request.params
    const routes = await node.traces.routes(session, { limit: request.query.limit, signal: requestSignal(request, reply, limits.handlerTimeoutMs) })
    return { session, routes: routes.map(cidsText) }
  })
}
