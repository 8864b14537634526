import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { tryParseCid } from '../../../core/cid.ts'
import type { FramehubNode } from '../../../node.ts'
import { httpCodes, HttpError, installErrorHandlers } from '../../errors.ts'
import type { ErrorFormatter } from '../../errors.ts'
import type { EventBus } from '../../../services/events.ts'
import type { PinRecord, PinRequest, PinState, PinStore, TextMatch } from '../../../services/pins.ts'

export interface PinsContext {
  node: FramehubNode
  events: EventBus
  auth: onRequestHookHandler
  writeRateLimit: Record<string, unknown> | undefined
  store: PinStore
}

const STATES: readonly PinState[] = ['queued', 'pinning', 'pinned', 'failed']
const MATCHES: readonly TextMatch[] = ['exact', 'iexact', 'partial', 'ipartial']

/** The spec's reasons for the statuses it names; other 4xx get a descriptive one of ours. */
const reasons: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  409: 'INSUFFICIENT_FUNDS',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE'
}

/** The Pinning Service API's `Failure` body; the framehub code leads the details. */
const formatPinError: ErrorFormatter = (status, body) => ({
  error: { reason: reasons[status] ?? (status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR'), details: `${body.code}: ${body.message}` }
})

const failure = { $ref: 'api-pin-failure.schema.json#' }
const failures = { 400: failure, 401: failure, 404: failure, 409: failure, '4xx': failure, '5xx': failure }
const requestIdParams = { type: 'object', required: ['requestid'], properties: { requestid: { type: 'string', minLength: 1, maxLength: 128 } } } as const
const security = [{ bearer: [] }]

interface ListQuery {
  cid?: string
  name?: string
  match?: TextMatch
  status?: string
  before?: string
  after?: string
  limit: number
  meta?: string
}

function splitList (text: string | undefined, what: string, max: number): string[] | undefined {
  if (text == null) return undefined
  const items = [...new Set(text.split(',').map(s => s.trim()).filter(s => s !== ''))]
  if (items.length === 0) throw new HttpError(httpCodes.validation, `querystring/${what} is empty`)
  if (items.length > max) throw new HttpError(httpCodes.validation, `querystring/${what} has more than ${max} items`)
  return items
}

/** `/pins`: the IPFS Pinning Service API v1.0.0 (github.com/ipfs/pinning-services-api-spec). */
export async function pinRoutes (app: FastifyInstance, ctx: PinsContext): Promise<void> {
  const { node } = ctx
  const { store } = ctx
  // Where a client may connect to hand over the data: this node's listen addresses when it is
  // on the network, else its peer id alone.
  const delegates = (): string[] => {
    const addresses = node.network?.addresses() ?? []
    return addresses.length > 0 ? addresses.slice(0, 20) : [`/p2p/${node.peerId}`]
  }
  const view = (r: PinRecord): Record<string, unknown> => {
    const out: Record<string, unknown> = { requestid: r.requestid, status: r.status, created: r.created, pin: r.pin, delegates: delegates() }
    if (r.info != null) out.info = r.info
    return out
  }

  installErrorHandlers(app, formatPinError)
  app.addHook('onRequest', ctx.auth)

  app.get<{ Querystring: ListQuery }>('/', {
    schema: {
      summary: 'List pin objects (newest first; default status=pinned, limit=10)',
      tags: ['pins'],
      security,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          cid: { type: 'string', maxLength: 4096, description: 'Comma-separated CIDs (at most 10)' },
          name: { type: 'string', maxLength: 255 },
          match: { type: 'string', enum: [...MATCHES] },
          status: { type: 'string', maxLength: 64, description: 'Comma-separated statuses' },
          before: { type: 'string', format: 'date-time' },
          after: { type: 'string', format: 'date-time' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
          meta: { type: 'string', maxLength: 65536, description: 'A JSON object of string values, URL-encoded' }
        },
        // Generated OpenAPI clients (e.g. @ipfs-shipyard/pinning-service-client) send meta deep-object style.
        patternProperties: { '^meta\\[[^\\]]{1,256}\\]$': { type: 'string', maxLength: 4096 } }
      },
      response: { 200: { $ref: 'api-pin-results.schema.json#' }, ...failures }
    }
  }, async (request) => {
    const q = request.query
    const cids = splitList(q.cid, 'cid', 10)?.map(c => {
      const cid = tryParseCid(c)
      if (cid == null) throw new HttpError('ERR_CID_INVALID', `"${c}" is not a valid CID`)
      return cid.toString()
    })
    const status = (splitList(q.status, 'status', 4) ?? ['pinned']).map(s => {
      if (!STATES.includes(s as PinState)) throw new HttpError(httpCodes.validation, `querystring/status: "${s}" is not one of ${STATES.join(', ')}`)
      return s as PinState
    })
    let meta: Record<string, string> | undefined
    if (q.meta != null) {
      let parsed: unknown
      try { parsed = JSON.parse(q.meta) } catch { parsed = undefined }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || !Object.values(parsed).every(v => typeof v === 'string')) {
        throw new HttpError(httpCodes.validation, 'querystring/meta must be a JSON object of string values')
      }
      meta = parsed as Record<string, string>
    }
    for (const [key, value] of Object.entries(q as unknown as Record<string, unknown>)) {
      const m = /^meta\[(.+)\]$/.exec(key)
      if (m != null && typeof value === 'string') (meta ??= {})[m[1] as string] = value
    }
    const { count, results } = await store.list({
      cids,
      name: q.name,
      match: q.match,
      status,
      before: q.before != null ? new Date(q.before) : undefined,
      after: q.after != null ? new Date(q.after) : undefined,
      meta,
      limit: q.limit
    })
    return { count, results: results.map(view) }
  })

  app.post<{ Body: PinRequest }>('/', {
    config: { rateLimit: ctx.writeRateLimit },
    schema: { summary: 'Add a pin object', tags: ['pins'], security, body: { $ref: 'api-pin.schema.json#' }, response: { 202: { $ref: 'api-pin-status.schema.json#' }, ...failures } }
  }, async (request, reply) => {
    return await reply.code(202).send(view(await store.add(request.body)))
  })

  app.get<{ Params: { requestid: string } }>('/:requestid', {
    schema: { summary: 'Get a pin object and its status', tags: ['pins'], security, params: requestIdParams, response: { 200: { $ref: 'api-pin-status.schema.json#' }, ...failures } }
  }, async (request) => {
    const record = await store.get(request.params.requestid)
    if (record == null) throw new HttpError(httpCodes.pinNotFound, `no pin request "${request.params.requestid}"`)
    return view(record)
  })

  app.post<{ Params: { requestid: string }, Body: PinRequest }>('/:requestid', {
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Replace a pin object (the old pin is released only after the new one is done)',
      tags: ['pins'],
      security,
      params: requestIdParams,
      body: { $ref: 'api-pin.schema.json#' },
      response: { 202: { $ref: 'api-pin-status.schema.json#' }, ...failures }
    }
  }, async (request, reply) => {
    const record = await store.replace(request.params.requestid, request.body)
    if (record == null) throw new HttpError(httpCodes.pinNotFound, `no pin request "${request.params.requestid}"`)
    return await reply.code(202).send(view(record))
  })

  app.delete<{ Params: { requestid: string } }>('/:requestid', {
    config: { rateLimit: ctx.writeRateLimit },
    schema: { summary: 'Remove a pin object', tags: ['pins'], security, params: requestIdParams, response: { 202: { type: 'null' }, ...failures } }
  }, async (request, reply) => {
    if (!await store.remove(request.params.requestid)) throw new HttpError(httpCodes.pinNotFound, `no pin request "${request.params.requestid}"`)
    return await reply.code(202).send()
  })
}
