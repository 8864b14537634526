import compress from '@fastify/compress'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { attachmentRoutes } from './attachments.ts'
import { commitRoutes } from './commits.ts'
import { consensusRoutes } from './consensus.ts'
import type { ApiContext } from './context.ts'
import { eventRoutes } from './events.ts'
import { frameImportRoutes } from './frame-import.ts'
import { frameRoutes } from './frames.ts'
import { gcRoutes } from './gc.ts'
import { networkStatusRoutes } from './network-status.ts'
import { referrerRoutes } from './referrers.ts'
import { refRoutes } from './refs.ts'
import { snapshotRoutes } from './snapshots.ts'
import { swarmRoutes } from './swarm.ts'
import { traceRoutes } from './traces.ts'
import { spanImportRoutes } from '../otlp.ts'
import { verifyRoutes } from './verify.ts'

/**
 * JSON answers are compressed (brotli or gzip, as the client asks in Accept-Encoding; 1 kB and
 * more): a page of 1,000 commits is 200 kB of JSON. Not the bytes the API hands out as they are
 * stored (attachments, CAR snapshots: their ETag and byte ranges name those bytes), nor a frame
 * read (its ETag is the frame's CID), nor the event stream; request bodies are never inflated.
 */
const compressJson = { encodings: ['br', 'gzip'], customTypes: /^application\/json(?:;|$)/u, threshold: 1024 } as const
const sendsStoredBytes = (route: RouteOptions): boolean => /^\/api\/v1\/(?:attachments|snapshots|events|frames\/(?::cid|by-id\/))/.test(route.url)

/** Everything under /api/v1. Each concern is its own encapsulated plugin (body parsers differ). */
export async function apiRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat()
    if (route.compress === undefined) route.compress = methods.includes('GET') && !sendsStoredBytes(route) ? { ...compressJson, encodings: [...compressJson.encodings] } : false
  })
  await app.register(compress, { global: false, globalDecompression: false })
  await app.register(frameRoutes, ctx)
  await app.register(frameImportRoutes, ctx)
  await app.register(attachmentRoutes, ctx)
  await app.register(commitRoutes, ctx)
  await app.register(refRoutes, ctx)
  await app.register(traceRoutes, ctx)
  await app.register(spanImportRoutes, ctx)
  await app.register(snapshotRoutes, ctx)
  await app.register(verifyRoutes, ctx)
  await app.register(eventRoutes, ctx)
  await app.register(gcRoutes, ctx)
  await app.register(swarmRoutes, ctx)
  await app.register(networkStatusRoutes, ctx)
  await app.register(referrerRoutes, ctx)
  await app.register(consensusRoutes, ctx)
}
