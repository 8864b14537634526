import type { FastifyInstance } from 'fastify'
import type * as Wire from '../../../core/api-types.ts'
import { errorResponses } from './context.ts'
import type { ApiContext } from './context.ts'

/**
 * `GET /network/status`: whether this node is on the network, answered 200 either way, so that a
 * client (the explorer) can tell before asking `/id`, `/peers` or `/remotes`, which answer 409
 * ERR_NETWORK_OFFLINE on a node started without networking.
 */
export async function networkStatusRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node } = ctx
  app.get('/network/status', {
    schema: {
      summary: 'Whether this node is on the network (started with libp2p) or offline',
      tags: ['network'],
      response: { 200: { $ref: 'api-network-status.schema.json#' }, ...errorResponses }
    }
  }, async (): Promise<Wire.NetworkStatus> => ({ online: node.network != null, peerId: node.peerId }))
}
