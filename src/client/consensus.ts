import type * as Wire from '../core/api-types.ts'
import type { ConsensusApi } from '../services/consensus.ts'
import type { ApiClient } from './api.ts'

/** ConsensusApi over the daemon's /api/v1: the JSON documents the routes answer (services/views.ts), as they are. */
export function remoteConsensus (api: ApiClient): ConsensusApi {
  const member = async (method: 'PUT' | 'DELETE', peer: string, weight?: number): Promise<string[]> =>
    (await api.json<Wire.Members>(`/network/members/${encodeURIComponent(peer)}`, { method, ...(weight !== undefined ? { json: { weight } } : {}) })).members
  return {
    show: async (branch, options) => await api.json<Wire.Consensus>(`/consensus/${branch.split('/').map(encodeURIComponent).join('/')}`, { signal: options?.signal }),
    status: async (options) => await api.json<Wire.ConsensusStatus>('/consensus', { signal: options?.signal }),
    members: async () => (await api.json<Wire.Members>('/network/members')).members,
    memberWeights: async () => (await api.json<Wire.Members>('/network/members')).weights,
    addMember: async (peer, options) => await member('PUT', peer, options?.weight),
    removeMember: async (peer) => await member('DELETE', peer),
    shadow: async (branch, options) => await api.json<Wire.Shadow>('/shadow', { query: { branch }, signal: options?.signal }),
    fingerprints: async () => (await api.json<Wire.Fingerprints>('/peers/fingerprints')).peers
  }
}
