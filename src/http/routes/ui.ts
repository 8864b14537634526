import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { constants, gzipSync } from 'node:zlib'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { httpCodes, HttpError } from '../errors.ts'

/**
 * The explorer: a web page at /ui that draws the repository with the documented HTTP API only.
 * Its files are plain ES modules in the package's ui/ folder (no build step), and the graph
 * libraries (Cytoscape.js, its dagre layout, d3-dag's lane layout for large graphs) come from
 * node_modules, so nothing is fetched
 * from another origin and the page works offline. Everything is read once, at start, into a fixed
 * table of paths: no path of a request ever reaches the file system.
 */

interface Asset { body: Buffer, type: string, etag: string, gzip?: Buffer }

/** The gzip form of an asset, made on the first request that accepts it and kept (Cytoscape: 435 kB → about 135 kB). */
function gzipped (a: Asset): Buffer {
  a.gzip ??= gzipSync(a.body, { level: constants.Z_BEST_COMPRESSION })
  return a.gzip
}

/** Whether an Accept-Encoding header takes gzip (q=0 refuses it). */
export function acceptsGzip (header: string | string[] | undefined): boolean {
  const text = Array.isArray(header) ? header.join(',') : header ?? ''
  for (const part of text.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    if (name !== 'gzip' && name !== '*') continue
    const q = params.map(p => p.trim()).find(p => p.startsWith('q='))
    return q == null || Number(q.slice(2)) > 0
  }
  return false
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

/** The page's own folder: ui/ at the package root (src/ and dist/ sit at the same depth). */
export const UI_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url))

/** The libraries the page imports, by the name it imports them under. */
const require = createRequire(import.meta.url)
const VENDOR: Record<string, () => string> = {
  'cytoscape.mjs': () => join(dirname(require.resolve('cytoscape')), 'cytoscape.esm.min.mjs'),
  'cytoscape-dagre.mjs': () => join(dirname(require.resolve('cytoscape-dagre')), 'cytoscape-dagre.min.mjs'),
  'd3-dag.mjs': () => join(dirname(require.resolve('d3-dag')), 'd3-dag.esm.min.mjs')
}

const extOf = (name: string): string => name.slice(name.lastIndexOf('.'))

function asset (path: string): Asset {
  const body = readFileSync(path)
  const type = TYPES[extOf(path)]
  if (type == null) throw new Error(`explorer: no media type for ${path}`)
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }
}

/** The explorer's files by URL path under /ui/. */
export function loadAssets (dir = UI_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const name of readdirSync(dir)) {
    if (TYPES[extOf(name)] != null) assets.set(name, asset(join(dir, name)))
  }
  for (const [name, path] of Object.entries(VENDOR)) assets.set(`vendor/${name}`, asset(path()))
  if (!assets.has('index.html')) throw new Error(`explorer: ${dir} has no index.html`)
  return assets
}

/**
 * The page may talk to this origin only: scripts and styles of its own (Cytoscape sets the
 * style of its canvas elements), images from attachments (blob:, data:), no frames.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export async function uiRoutes (app: FastifyInstance): Promise<void> {
  const assets = loadAssets()
  const send = async (name: string, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const a = assets.get(name)
    if (a == null) throw new HttpError(httpCodes.notFound, `the explorer has no file ${name}`)
    // Each encoding is its own representation, with its own (strong) ETag.
    const gzip = a.body.length > 1024 && acceptsGzip(request.headers['accept-encoding'])
    const etag = gzip ? `${a.etag.slice(0, -1)}-gz"` : a.etag
    void reply.header('content-type', a.type).header('etag', etag).header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff').header('content-security-policy', CSP).header('referrer-policy', 'no-referrer')
      .header('vary', 'accept-encoding')
    if (request.headers['if-none-match'] === etag) return await reply.code(304).send()
    if (gzip) return await reply.header('content-encoding', 'gzip').send(gzipped(a))
    return await reply.send(a.body)
  }
  const hide = { hide: true }
  app.get('/ui', { schema: hide }, async (request, reply) => await send('index.html', request, reply))
  app.get<{ Params: { '*': string } }>('/ui/*', { schema: hide }, async (request, reply) => {
    const name = request.params['*']
    return await send(name === '' ? 'index.html' : name, request, reply)
  })
}
