import type { FastifyInstance } from 'fastify'
import type { FramehubNode } from '../../node.ts'
import type { StreamSlots } from '../plugins/streams.ts'

const started = Date.now()

/** `/health`: liveness and a few facts about the node; cheap, no auth. */
export async function healthRoutes (app: FastifyInstance, ctx: { node: FramehubNode, streams: StreamSlots }): Promise<void> {
  app.get('/health', {
    schema: {
      summary: 'Liveness of the node',
      tags: ['operations'],
      response: {
        200: {
          type: 'object',
          required: ['status', 'peerId', 'branch', 'uptime'],
          properties: {
            status: { type: 'string', enum: ['ok'] },
            peerId: { type: 'string' },
            branch: { type: 'string' },
            uptime: { type: 'number', description: 'Seconds since the gateway started' },
            eventStreams: { type: 'integer', description: 'Open event streams (GET /api/v1/events)' }
          }
        }
      }
    }
  }, async () => ({
    status: 'ok' as const,
    peerId: ctx.node.peerId,
    branch: await ctx.node.refs.currentBranch(),
    uptime: (Date.now() - started) / 1000,
    eventStreams: ctx.streams.open
  }))
}
