import type { FastifyInstance } from 'fastify'
import { parseCid } from '../../../core/cid.ts'
import type * as Wire from '../../../core/api-types.ts'
import { publishResultView, remotesView, syncResultView } from '../../../services/views.ts'
import { requestSignal } from '../../request.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'

/** The node in the swarm: identity, peers, publishing, remote refs, sync. 409 ERR_NETWORK_OFFLINE when the node is offline. */
export async function swarmRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits, writeRateLimit } = ctx
  const { swarm } = node
  const tags = ['network']

  app.get('/id', {
    schema: {
      summary: "This node's peer id, network, listen addresses and chain",
      tags,
      response: { 200: { $ref: 'api-node-identity.schema.json#' }, ...errorResponses, ...errors(409) }
    }
  }, async () => await swarm.id())

  app.get('/peers', {
    schema: { summary: 'Connected peers', tags, response: { 200: { $ref: 'api-peers.schema.json#' }, ...errorResponses, ...errors(409) } }
  }, async (): Promise<Wire.Peers> => {
    const peers = await swarm.peers()
    const fingerprints = new Map((await node.consensus.fingerprints()).map(f => [f.peer, f]))
    return { peers: peers.map(p => fingerprints.has(p.peer) ? { ...p, fingerprint: fingerprints.get(p.peer) } : p) }
  })

  app.post<{ Body: { address: string } }>('/peers/connect', {
    onRequest: auth,
    config: { rateLimit: writeRateLimit },
    schema: {
      summary: 'Dial a peer by multiaddr (ending in /p2p/<peer id>)',
      tags,
      security: writeSecurity,
      body: { type: 'object', required: ['address'], additionalProperties: false, properties: { address: { type: 'string', minLength: 1, maxLength: 1024 } } },
      response: { 200: { $ref: 'api-peer.schema.json#' }, ...errorResponses, ...errors(409, 502) }
    }
  }, async (request, reply) => await swarm.connect(request.body.address, { signal: requestSignal(request, reply, limits.handlerTimeoutMs) }))

  app.post<{ Body: { peer: string } }>('/peers/disconnect', {
    onRequest: auth,
    config: { rateLimit: writeRateLimit },
    schema: {
      summary: 'Close every connection to a peer',
      tags,
      security: writeSecurity,
      body: { type: 'object', required: ['peer'], additionalProperties: false, properties: { peer: { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: { $ref: 'api-disconnect-result.schema.json#' }, ...errorResponses, ...errors(409) }
    }
  }, async (request): Promise<Wire.DisconnectResult> => {
    await swarm.disconnect(request.body.peer)
    return { peer: request.body.peer }
  })

  app.post<{ Body: { branch?: string | null, sessions?: string[] } }>('/publish', {
    onRequest: auth,
    config: { rateLimit: writeRateLimit },
    schema: {
      summary: 'Coherence check, then append the head of a shared/* branch (and session heads) to this node’s chain',
      tags,
      security: writeSecurity,
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          branch: { type: ['string', 'null'], minLength: 1, maxLength: 200 },
          sessions: { type: 'array', maxItems: 1024, items: { type: 'string', minLength: 1, maxLength: 200 } }
        }
      },
      response: { 200: { $ref: 'api-publish-result.schema.json#' }, ...errorResponses, ...errors(404, 409, 422) }
    }
  }, async (request, reply) => publishResultView(await swarm.publish({ ...request.body, signal: requestSignal(request, reply, limits.handlerTimeoutMs * 10) })))

  app.get('/remotes', {
    schema: {
      summary: "Peers' published heads of shared branches (remote-tracking refs)",
      tags,
      response: { 200: { $ref: 'api-remotes.schema.json#' }, ...errorResponses, ...errors(409) }
    }
  }, async () => remotesView(await swarm.remotes()))

  app.post<{ Body: { cid: string, from?: string[] } }>('/sync', {
    onRequest: auth,
    config: { rateLimit: writeRateLimit },
    schema: {
      summary: 'Fetch the DAG under a CID from peers (one CAR stream of what is missing), verify it and make it visible',
      tags,
      security: writeSecurity,
      body: { type: 'object', required: ['cid'], additionalProperties: false, properties: { cid: { type: 'string', minLength: 1, maxLength: 256 }, from: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 256 } } } },
      response: { 200: { $ref: 'api-sync-result.schema.json#' }, ...errorResponses, ...errors(404, 409, 422, 502) }
    }
  }, async (request, reply) => syncResultView(await swarm.sync(parseCid(request.body.cid), { from: request.body.from, signal: requestSignal(request, reply, limits.handlerTimeoutMs * 60) })))
}
