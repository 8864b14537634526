import type { ConsensusApi, ConsensusDocument, ConsensusStatus, ShadowDocument } from '../services/consensus.ts'
import type { ApiClient } from './api.ts'

/** ConsensusApi over the daemon's /api/v1 (the same JSON documents). */
export function remoteConsensus (api: ApiClient): ConsensusApi {
  const member = async (method: 'PUT' | 'DELETE', peer: string, weight?: number): Promise<string[]> =>
    (await api.json<{ members: string[] }>(`/network/members/${encodeURIComponent(peer)}`, { method, ...(weight !== undefined ? { json: { weight } } : {}) })).members
  return {
    show: async (branch, options) => await api.json<ConsensusDocument>(`/consensus/${branch.split('/').map(encodeURIComponent).join('/')}`, { signal: options?.signal }),
    status: async (options) => await api.json<ConsensusStatus>('/consensus', { signal: options?.signal }),
    members: async () => (await api.json<{ members: string[] }>('/network/members')).members,
    memberWeights: async () => (await api.json<{ weights: Record<string, number> }>('/network/members')).weights,
    addMember: async (peer, options) => await member('PUT', peer, options?.weight),
    removeMember: async (peer) => await member('DELETE', peer),
    shadow: async (branch, options) => await api.json<ShadowDocument>('/shadow', { query: { branch }, signal: options?.signal }),
    fingerprints: async () => (await api.json<{ peers: Awaited<ReturnType<ConsensusApi['fingerprints']>> }>('/peers/fingerprints')).peers
  }
}
