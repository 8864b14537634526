import type { FastifyInstance } from 'fastify'
import type * as Wire from '../../../core/api-types.ts'
import { requestSignal } from '../../request.ts'
import { errorResponses, errors, writeSecurity } from './context.ts'
import type { ApiContext } from './context.ts'
import { MAX_MEMBER_WEIGHT } from '../../../core/consensus/weight.ts'

const peerParam = { type: 'object', required: ['peer'], additionalProperties: false, properties: { peer: { type: 'string', minLength: 1, maxLength: 128 } } } as const

/** Consensus on shared branches: the canonical head and why, the network's targets, the voting members. */
export async function consensusRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { node, auth, limits } = ctx
  const membersDocument = async (): Promise<Wire.Members> =>
    ({ members: await node.consensus.members(), weights: await node.consensus.memberWeights() })

  app.get('/consensus', {
    schema: {
      summary: 'Convergence, conflict rate, nodes and every shared branch\'s canonical head',
      tags: ['consensus'],
      response: { 200: { $ref: 'api-consensus-status.schema.json#' }, ...errorResponses }
    }
  }, async (request, reply) => await node.consensus.status({ signal: requestSignal(request, reply, limits.handlerTimeoutMs) }))

  app.get<{ Params: { '*': string } }>('/consensus/*', {
    schema: {
      summary: 'The canonical head of a shared branch, every candidate with its score and the terms behind it',
      description: 'The branch is the rest of the path (`/api/v1/consensus/shared/main`). Computed from the proposals this node has recorded; the decision record is stored and named by `decision`.',
      tags: ['consensus'],
      params: { type: 'object', properties: { '*': { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: { $ref: 'api-consensus.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => await node.consensus.show(request.params['*'], { signal: requestSignal(request, reply, limits.handlerTimeoutMs) }))

  app.get<{ Querystring: { branch: string } }>('/shadow', {
    schema: {
      summary: 'Shadow frames of a shared branch: local changes not in the canonical head yet (unconfirmed)',
      tags: ['consensus'],
      querystring: { type: 'object', required: ['branch'], additionalProperties: false, properties: { branch: { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: { $ref: 'api-shadow.schema.json#' }, ...errorResponses, ...errors(404) }
    }
  }, async (request, reply) => await node.consensus.shadow(request.query.branch, { signal: requestSignal(request, reply, limits.handlerTimeoutMs) }))

  app.get('/peers/fingerprints', {
    schema: {
      summary: 'Every known peer\'s fingerprint (first/last seen, chain length, proposals, canonical commits, coherence failures) and the weight of its vote',
      tags: ['consensus'],
      response: { 200: { $ref: 'api-fingerprints.schema.json#' }, ...errorResponses }
    }
  }, async (): Promise<Wire.Fingerprints> => ({ peers: await node.consensus.fingerprints() }))

  app.get('/network/members', {
    schema: {
      summary: 'The voting members (empty: every node that announces itself votes)',
      tags: ['consensus'],
      response: { 200: { $ref: 'api-members.schema.json#' }, ...errorResponses }
    }
  }, async () => await membersDocument())

  app.put<{ Params: { peer: string }, Body: { weight?: number } | undefined }>('/network/members/:peer', {
    onRequest: auth,
    // The body is optional: none is {} (weight 1).
    preValidation: async (request) => { if (request.body === undefined || request.body === null) request.body = {} },
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Add a voting member, or set its weight (body optional: {"weight": 0 to 1000000}, default 1)',
      tags: ['consensus'],
      security: writeSecurity,
      params: peerParam,
      body: { type: 'object', additionalProperties: false, properties: { weight: { type: 'number', minimum: 0, maximum: MAX_MEMBER_WEIGHT } } },
      response: { 200: { $ref: 'api-members.schema.json#' }, ...errorResponses }
    }
  }, async (request) => {
    await node.consensus.addMember(request.params.peer, { weight: request.body?.weight })
    return await membersDocument()
  })

  app.delete<{ Params: { peer: string } }>('/network/members/:peer', {
    onRequest: auth,
    config: { rateLimit: ctx.writeRateLimit },
    schema: {
      summary: 'Remove a voting member',
      tags: ['consensus'],
      security: writeSecurity,
      params: peerParam,
      response: { 200: { $ref: 'api-members.schema.json#' }, ...errorResponses }
    }
  }, async (request) => {
    await node.consensus.removeMember(request.params.peer)
    return await membersDocument()
  })
}
