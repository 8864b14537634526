import type { FastifyInstance } from 'fastify'
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

/** Everything under /api/v1. Each concern is its own encapsulated plugin (body parsers differ). */
export async function apiRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
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
