import type { FastifyInstance } from 'fastify'
import { parseCid } from '../../../core/cid.ts'
import { requestSignal } from '../../request.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'

const peerInfo = {
  type: 'object',
  required: ['peer', 'addrs'],
  properties: {
    peer: { type: 'string' },
    addrs: { type: 'array', items: { type: 'string' } },
    chain: { type: 'string' },
    latencyMs: { type: 'number' },
    fingerprint: {
      description: 'What this node knows of the peer and the weight of its vote (the fields of GET /api/v1/peers/fingerprints), once it has processed an entry of its chain.',
      type: 'object',
      additionalProperties: true
    }
  }
} as const

/** The node in the swarm: identity, peers, publishing, remote refs, sync. 409 ERR_NETWORK_OFFLINE when the node is offline. */
export async function swarmRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits, writeRateLimit } = ctx
  const { swarm } = node
  const tags = ['network']

  app.get('/id', {
    schema: {
      summary: "This node's peer id, network, listen addresses and chain",
      tags,
      response: {
        200: { type: 'object', required: ['peerId', 'network', 'addresses', 'chain'], properties: { peerId: { type: 'string' }, network: { type: 'string' }, addresses: { type: 'array', items: { type: 'string' } }, chain: { type: 'string' } } },
        ...errorResponses,
        ...errors(409)
      }
    }
  }, async () => await swarm.id())

  app.get('/peers', {
    schema: { summary: 'Connected peers', tags, response: { 200: { type: 'object', required: ['peers'], properties: { peers: { type: 'array', items: peerInfo } } }, ...errorResponses, ...errors(409) } }
  }, async () => {
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
      response: { 200: peerInfo, ...errorResponses, ...errors(409, 502) }
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
      response: { 200: { type: 'object', properties: { peer: { type: 'string' } } }, ...errorResponses, ...errors(409) }
    }
  }, async (request) => {
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
      response: {
        200: {
          type: 'object',
          required: ['sessions', 'checked'],
          properties: {
            ref: { type: 'object', properties: { name: { type: 'string' }, head: { type: 'string' } } },
            sessions: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
            checked: { type: 'integer' }
          }
        },
        ...errorResponses,
        ...errors(404, 409, 422)
      }
    }
  }, async (request, reply) => {
    const r = await swarm.publish({ ...request.body, signal: requestSignal(request, reply, limits.handlerTimeoutMs * 10) })
    return {
      ...(r.ref != null ? { ref: { name: r.ref.name, head: r.ref.head.toString() } } : {}),
      sessions: Object.fromEntries(Object.entries(r.sessions).map(([k, v]) => [k, v.map(String)])),
      checked: r.checked
    }
  })

  app.get('/remotes', {
    schema: {
      summary: "Peers' published heads of shared branches (remote-tracking refs)",
      tags,
      response: { 200: { type: 'object', required: ['remotes'], properties: { remotes: { type: 'array', items: { type: 'object', properties: { peer: { type: 'string' }, ref: { type: 'string' }, head: { type: 'string' } } } } } }, ...errorResponses, ...errors(409) }
    }
  }, async () => ({ remotes: (await swarm.remotes()).map(r => ({ peer: r.peer, ref: r.ref, head: r.head.toString() })) }))

  app.post<{ Body: { cid: string, from?: string[] } }>('/sync', {
    onRequest: auth,
    config: { rateLimit: writeRateLimit },
    schema: {
      summary: 'Fetch the DAG under a CID from peers (one CAR stream of what is missing), verify it and make it visible',
      tags,
      security: writeSecurity,
      body: { type: 'object', required: ['cid'], additionalProperties: false, properties: { cid: { type: 'string', minLength: 1, maxLength: 256 }, from: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 256 } } } },
      response: { 200: { type: 'object', properties: { want: { type: 'string' }, peer: { type: 'string' }, blocks: { type: 'integer' }, bytes: { type: 'integer' }, ms: { type: 'number' } } }, ...errorResponses, ...errors(404, 409, 422, 502) }
    }
  }, async (request, reply) => {
    const r = await swarm.sync(parseCid(request.body.cid), { from: request.body.from, signal: requestSignal(request, reply, limits.handlerTimeoutMs * 60) })
    return { want: r.want.toString(), peer: r.peer, blocks: r.blocks, bytes: r.bytes, ms: Math.round(r.ms) }
  })
}
