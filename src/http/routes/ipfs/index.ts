import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { CID } from 'multiformats/cid'
import { carStream } from '../../../core/car.ts'
import type { Block } from '../../../core/block.ts'
import { cidKey, cidString, parseCid } from '../../../core/cid.ts'
import { BlockNotFoundError } from '../../../core/errors.ts'
import type { FramehubNode } from '../../../node.ts'
import { httpCodes, HttpError } from '../../errors.ts'
import { exportBody } from '../../exports.ts'
import type { ExportGate } from '../../exports.ts'
import { requestSignal } from '../../request.ts'
import { errorResponses, errors } from '../api/context.ts'
import { hasBlock, isIdentity, paramsTag, readBlock, resolvePath, scopeBlocks } from './car.ts'
import type { DagScope, EntityBytes } from './car.ts'

export interface IpfsContext {
  node: FramehubNode
  handlerTimeoutMs: number
  /** The gate full-DAG CARs (dag-scope=all) pass, shared with snapshot exports. */
  exports: ExportGate
}

const RAW_TYPE = 'application/vnd.ipld.raw'
const CAR_TYPE = 'application/vnd.ipld.car'
const IMMUTABLE = 'public, max-age=29030400, immutable'
/** Formats of the path gateway this trustless gateway does not give (406, not 400). */
const OTHER_FORMATS = new Set(['dag-json', 'dag-cbor', 'json', 'cbor', 'tar', 'ipns-record'])

interface Query {
  format?: string
  'dag-scope'?: string
  'entity-bytes'?: string
  'car-version'?: string
  'car-order'?: string
  'car-dups'?: string
  filename?: string
}

/** What the client asked for, after negotiation. */
type Wanted = { format: 'raw' } | { format: 'car', order: 'dfs' }
const RAW_FROM_ACCEPT: { wanted: Wanted, fromAccept: boolean } = Object.freeze({ wanted: Object.freeze({ format: 'raw' as const }), fromAccept: true })

interface MediaRange { type: string, params: Map<string, string>, q: number, index: number }

function parseAccept (header: string): MediaRange[] {
  const out: MediaRange[] = []
  header.split(',').forEach((part, index) => {
    const [type = '', ...rest] = part.split(';').map(s => s.trim())
    if (type === '') return
    const params = new Map<string, string>()
    for (const p of rest) {
      const eq = p.indexOf('=')
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"|"$/g, '').toLowerCase())
    }
    const q = params.has('q') ? Number(params.get('q')) : 1
    out.push({ type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0, index })
  })
  return out.filter(r => r.q > 0).sort((a, b) => b.q - a.q || a.index - b.index)
}

/** Can this gateway give a CAR with these parameters? (version 1, order dfs or unk, dups n.) */
function carParamsOk (version: string | undefined, order: string | undefined, dups: string | undefined): boolean {
  return (version == null || version === '1') && (order == null || order === 'dfs' || order === 'unk') && (dups == null || dups === 'n')
}

/** Negotiates the response format: `format` wins over Accept, as the spec says. */
function negotiate (request: FastifyRequest<{ Querystring: Query }>): { wanted: Wanted, fromAccept: boolean } {
  const q = request.query
  if (q.format != null) {
    if (q.format === 'raw') return { wanted: { format: 'raw' }, fromAccept: false }
    if (q.format === 'car') {
      if (!carParamsOk(q['car-version'], q['car-order'], q['car-dups'])) {
        throw new HttpError(httpCodes.notAcceptable, 'this gateway gives CAR version=1, order=dfs, dups=n')
      }
      return { wanted: { format: 'car', order: 'dfs' }, fromAccept: false }
    }
    if (OTHER_FORMATS.has(q.format)) throw new HttpError(httpCodes.notAcceptable, `format=${q.format} is not given by this trustless gateway: use format=raw or format=car`)
    throw new HttpError(httpCodes.badRequest, `unknown format "${q.format}"`)
  }
  const accept = request.headers.accept
  // What trustless clients send, without parsing: a raw block.
  if (accept === RAW_TYPE) return RAW_FROM_ACCEPT
  if (accept == null || accept.trim() === '') {
    throw new HttpError(httpCodes.badRequest, `this is a trustless gateway: ask for ${RAW_TYPE} or ${CAR_TYPE} (Accept header or ?format=raw|car)`)
  }
  for (const range of parseAccept(accept)) {
    if (range.type === RAW_TYPE || range.type === 'application/*' || range.type === '*/*') return { wanted: { format: 'raw' }, fromAccept: true }
    if (range.type === CAR_TYPE) {
      const version = q['car-version'] ?? range.params.get('version')
      const order = q['car-order'] ?? range.params.get('order')
      const dups = q['car-dups'] ?? range.params.get('dups')
      if (carParamsOk(version, order, dups)) return { wanted: { format: 'car', order: 'dfs' }, fromAccept: true }
    }
  }
  throw new HttpError(httpCodes.notAcceptable, `this trustless gateway gives ${RAW_TYPE} and ${CAR_TYPE}; version=1; order=dfs; dups=n`)
}

function parseScope (text: string | undefined): DagScope | undefined {
  if (text == null) return undefined
  if (text === 'block' || text === 'entity' || text === 'all') return text
  throw new HttpError(httpCodes.badRequest, `dag-scope must be block, entity or all (not "${text}")`)
}

function parseEntityBytes (text: string | undefined): EntityBytes | undefined {
  if (text == null) return undefined
  const m = /^(-?\d+):(-?\d+|\*)$/.exec(text)
  if (m == null) throw new HttpError(httpCodes.badRequest, `entity-bytes must be from:to (integers, to may be *), not "${text}"`)
  const from = Number(m[1])
  const to = m[2] === '*' ? null : Number(m[2])
  if (!Number.isSafeInteger(from) || (to != null && !Number.isSafeInteger(to))) throw new HttpError(httpCodes.badRequest, 'entity-bytes is out of range')
  if (to != null && to >= 0 && from >= 0 && to < from) throw new HttpError(httpCodes.badRequest, 'entity-bytes: to is before from')
  return { from, to }
}

/** The blocks of a CAR answer: the blocks of the path first, then the scope's, each once, identity blocks left out. */
async function * answerBlocks (node: FramehubNode, via: Block[], target: CID, scope: DagScope, range: EntityBytes | undefined, signal: AbortSignal): AsyncGenerator<Block> {
  const sent = new Set<string>()
  for (const block of via) {
    sent.add(cidKey(block.cid))
    if (!isIdentity(block.cid)) yield block
  }
  yield * scopeBlocks(node.repo.blocks, target, scope, range, signal, sent)
}

/** `GET|HEAD /ipfs/{cid}[/{path}]`: the IPFS trustless gateway (raw blocks and CARs) over the local blockstore only. */
export async function ipfsRoutes (app: FastifyInstance, ctx: IpfsContext): Promise<void> {
  const { node } = ctx

  const querystring = {
    type: 'object',
    additionalProperties: true,
    properties: {
      format: { type: 'string', maxLength: 32 },
      'dag-scope': { type: 'string', maxLength: 16 },
      'entity-bytes': { type: 'string', maxLength: 64 },
      'car-version': { type: 'string', maxLength: 8 },
      'car-order': { type: 'string', maxLength: 8 },
      'car-dups': { type: 'string', maxLength: 8 }
    }
  } as const

  const notFound = (request: FastifyRequest, cid: CID): Error => {
    const onlyIfCached = /(^|,)\s*only-if-cached\s*(,|$)/i.test(request.headers['cache-control'] ?? '')
    if (onlyIfCached) return new HttpError(httpCodes.preconditionFailed, `block ${cid} is not in this node's store (only-if-cached)`)
    return new BlockNotFoundError(`block ${cid} is not in this repository`, { cid: cid.toString() })
  }
  /** The query string of the request with format=`format` (for Content-Location). */
  const withFormat = (request: FastifyRequest, format: string): string => {
    if (!request.url.includes('?')) return `format=${format}`
    const search = new URL(request.url, 'http://gateway').searchParams
    search.set('format', format)
    return search.toString()
  }

  const handler = async (request: FastifyRequest<{ Params: { cid: string, '*'?: string }, Querystring: Query }>, reply: FastifyReply): Promise<unknown> => {
    const cid = parseCid(request.params.cid, 'CID')
    const rest = request.params['*']
    const path = rest == null || rest === '' ? [] : rest.split('/').filter(s => s !== '')
    const { wanted, fromAccept } = negotiate(request)
    const head = request.method === 'HEAD'
    const cidText = cidString(cid)

    void reply.header('x-content-type-options', 'nosniff').header('vary', 'Accept')
    const base = `/ipfs/${cidText}${path.length > 0 ? '/' + path.map(encodeURIComponent).join('/') : ''}`

    if (wanted.format === 'raw') {
      // One read answers both "is it here?" and "what is it?"; one local block needs no
      // cancellation or timeout signal.
      let bytes: Uint8Array
      try {
        bytes = await readBlock(node.repo.blocks, cid)
      } catch (err) {
        throw err instanceof BlockNotFoundError ? notFound(request, cid) : err
      }
      if (path.length > 0) throw new HttpError(httpCodes.badRequest, 'raw block requests take no path: /ipfs/{cid}?format=raw')
      const etag = `"${cidText}.raw"`
      void reply
        .header('etag', etag)
        .header('cache-control', IMMUTABLE)
        .header('x-ipfs-path', base)
        .header('x-ipfs-roots', cidText)
        .header('content-disposition', `attachment; filename="${cidText}.bin"`)
        .header('content-length', bytes.byteLength)
        .type(RAW_TYPE)
      if (fromAccept) void reply.header('content-location', `${base}?${withFormat(request, 'raw')}`)
      if (request.headers['if-none-match'] === etag) return await reply.code(304).send()
      if (head) return await reply.send()
      return await reply.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    }

    if (!await hasBlock(node.repo.blocks, cid)) throw notFound(request, cid)
    const rangeText = request.query['entity-bytes']
    const range = parseEntityBytes(rangeText)
    const scope = parseScope(request.query['dag-scope']) ?? (range != null ? 'entity' : 'all')
    // A full DAG is an export, streamed for as long as snapshot exports are.
    const signal = requestSignal(request, reply, scope === 'all' ? ctx.handlerTimeoutMs * 10 : ctx.handlerTimeoutMs)
    const { via, target } = await resolvePath(node.repo.blocks, cid, path, signal)
    if (!await hasBlock(node.repo.blocks, target, signal)) throw new BlockNotFoundError(`block ${target} (at ${base}) is not in this repository`, { cid: target.toString() })
    const roots = [...via.map(b => cidString(b.cid)), cidString(target)]
    const tag = paramsTag(`${path.join('/')}|${scope}|${rangeText ?? ''}`)
    // Deterministic bytes for a CID and parameters (DFS, no duplicates): a strong ETag.
    const etag = `"${cidText}.car.${tag}"`
    void reply
      .header('etag', etag)
      .header('cache-control', IMMUTABLE)
      .header('x-ipfs-path', base)
      .header('x-ipfs-roots', roots.join(','))
      .header('content-disposition', `attachment; filename="${cidText}.car"`)
      .type(`${CAR_TYPE}; version=1; order=${wanted.order}; dups=n`)
    if (fromAccept) void reply.header('content-location', `${base}?${withFormat(request, 'car')}`)
    if (request.headers['if-none-match'] === etag) return await reply.code(304).send()
    if (head) return await reply.send()
    // A full DAG waits for a turn among the exports; the other scopes are a few blocks.
    if (scope === 'all') await ctx.exports.enter(reply, signal)
    return await reply.send(exportBody(carStream(cid, answerBlocks(node, via, target, scope, range, signal))))
  }

  const params = { type: 'object', required: ['cid'], properties: { cid: { type: 'string', maxLength: 256 }, '*': { type: 'string', maxLength: 4096 } } } as const
  const schema = {
    summary: 'IPFS trustless gateway: a raw block (application/vnd.ipld.raw) or a CAR (application/vnd.ipld.car)',
    description: 'Per specs.ipfs.tech/http-gateways/trustless-gateway. Serves only blocks in this node\'s store (404 otherwise, never waits on the network). CARs: version=1, order=dfs, dups=n; dag-scope=block|entity|all; entity-bytes for UnixFS files; IPLD paths for CAR requests.',
    tags: ['ipfs'],
    params,
    querystring,
    response: { 200: { description: 'The block or the CAR' }, 304: { description: 'Not modified (If-None-Match)', type: 'null' }, ...errorResponses, ...errors(404, 406, 412) }
  }
  for (const url of ['/ipfs/:cid', '/ipfs/:cid/*']) {
    app.route({ method: 'GET', url, schema, exposeHeadRoute: false, handler })
    app.route({ method: 'HEAD', url, schema: { ...schema, summary: 'Same as GET, without the body' }, handler })
  }
}
