import { CID } from 'multiformats/cid'
import type { PeerInfo } from '../network/index.ts'
import type { ProgressEvent } from '../services/context.ts'
import type { SyncProgress } from '../services/replication.ts'
import type { NodeIdentity, SwarmService } from '../services/swarm.ts'
import type { ApiClient } from './api.ts'

/** SwarmService over the daemon's /api/v1 (id, peers, publish, remotes, sync). */
export function remoteSwarm (api: ApiClient): SwarmService {
  return {
    id: async () => await api.json<NodeIdentity>('/id'),
    peers: async () => (await api.json<{ peers: PeerInfo[] }>('/peers')).peers,
    connect: async (address, options) => await api.json<PeerInfo>('/peers/connect', { method: 'POST', json: { address }, signal: options?.signal }),
    disconnect: async (peer) => { await api.json('/peers/disconnect', { method: 'POST', json: { peer } }) },
    publish: async (options = {}) => {
      const r = await api.json<{ ref?: { name: string, head: string }, sessions: Record<string, string[]>, checked: number }>('/publish', {
        method: 'POST',
        json: { ...(options.branch !== undefined ? { branch: options.branch } : {}), ...(options.sessions != null ? { sessions: options.sessions } : {}) },
        signal: options.signal
      })
      return {
        ...(r.ref != null ? { ref: { name: r.ref.name, head: CID.parse(r.ref.head) } } : {}),
        sessions: Object.fromEntries(Object.entries(r.sessions).map(([k, v]) => [k, v.map(h => CID.parse(h))])),
        checked: r.checked
      }
    },
    remotes: async () => (await api.json<{ remotes: Array<{ peer: string, ref: string, head: string }> }>('/remotes')).remotes.map(r => ({ ...r, head: CID.parse(r.head) })),
    sync: async (cid, options) => {
      // Progress comes from the daemon's event stream while the POST runs.
      const following = new AbortController()
      if (options?.onProgress != null) void followProgress(api, cid.toString(), options.onProgress, following.signal)
      const r = await api.json<{ want: string, peer: string, blocks: number, bytes: number, ms: number }>('/sync', { method: 'POST', json: { cid: cid.toString(), ...(options?.from != null ? { from: options.from } : {}) }, signal: options?.signal })
      following.abort()
      return { ...r, want: CID.parse(r.want) }
    }
  }
}

/** Reads `sync:progress` events of `want` from the daemon's SSE stream until `signal` aborts; never throws. */
async function followProgress (api: ApiClient, want: string, onProgress: (e: ProgressEvent<SyncProgress>) => void, signal: AbortSignal): Promise<void> {
  try {
    const response = await api.request('/events', { query: { types: 'sync:progress' }, signal })
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = message.split('\n').find(l => l.startsWith('data: '))
        if (data == null) continue
        const detail = JSON.parse(data.slice(6)) as SyncProgress
        if (detail.want === want) onProgress({ type: 'sync:progress', detail })
      }
    }
  } catch { /* the stream ends when the sync does */ }
}
