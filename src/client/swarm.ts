import type * as Wire from '../core/api-types.ts'
import type { ProgressEvent } from '../services/context.ts'
import type { SyncProgress } from '../services/replication.ts'
import type { SwarmService } from '../services/swarm.ts'
import { publishResultOf, remotesOf, syncResultOf } from '../services/views.ts'
import type { ApiClient } from './api.ts'

/** SwarmService over the daemon's /api/v1 (id, peers, publish, remotes, sync). */
export function remoteSwarm (api: ApiClient): SwarmService {
  return {
    id: async () => await api.json<Wire.NodeIdentity>('/id'),
    peers: async () => (await api.json<Wire.Peers>('/peers')).peers,
    connect: async (address, options) => await api.json<Wire.PeerInfo>('/peers/connect', { method: 'POST', json: { address }, signal: options?.signal }),
    disconnect: async (peer) => { await api.json<Wire.DisconnectResult>('/peers/disconnect', { method: 'POST', json: { peer } }) },
    publish: async (options = {}) => publishResultOf(await api.json<Wire.PublishResult>('/publish', {
      method: 'POST',
      json: { ...(options.branch !== undefined ? { branch: options.branch } : {}), ...(options.sessions != null ? { sessions: options.sessions } : {}) },
      signal: options.signal
    })),
    remotes: async () => remotesOf(await api.json<Wire.Remotes>('/remotes')),
    sync: async (cid, options) => {
      // Progress comes from the daemon's event stream while the POST runs.
      const following = new AbortController()
      if (options?.onProgress != null) void followProgress(api, cid.toString(), options.onProgress, following.signal)
      const r = await api.json<Wire.SyncResult>('/sync', { method: 'POST', json: { cid: cid.toString(), ...(options?.from != null ? { from: options.from } : {}) }, signal: options?.signal })
      following.abort()
      return syncResultOf(r)
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
