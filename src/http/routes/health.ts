import type { FastifyInstance } from 'fastify'
import type * as Wire from '../../core/api-types.ts'
import type { FramehubNode } from '../../node.ts'
import type { StreamSlots } from '../plugins/streams.ts'

const started = Date.now()

/** `/health`: liveness and a few facts about the node; cheap, no auth. */
export async function healthRoutes (app: FastifyInstance, ctx: { node: FramehubNode, streams: StreamSlots }): Promise<void> {
  app.get('/health', {
    schema: {
      summary: 'Liveness of the node',
      tags: ['operations'],
      response: { 200: { $ref: 'api-health.schema.json#' } }
    }
  }, async (): Promise<Wire.Health> => ({
    status: 'ok',
    peerId: ctx.node.peerId,
    branch: await ctx.node.refs.currentBranch(),
    uptime: (Date.now() - started) / 1000,
    eventStreams: ctx.streams.open
  }))
}
