import type * as Wire from '../core/api-types.ts'
import type { NodeServices } from '../node.ts'
import type { IndexStatus, RebuildProgress } from '../services/frame-index.ts'
import type { GcProgress } from '../services/gc.ts'
import { gcResultOf, indexStatusOf, indexUpdateOf } from '../services/views.ts'
import type { ApiClient } from './api.ts'
import { progressJson } from './progress.ts'

/** Garbage collection over the daemon's `POST /api/v1/gc`, followed as it goes. */
export function remoteGc (api: ApiClient): NodeServices['gc'] {
  return {
    gc: async (options) => {
      const r = await progressJson<Wire.GcResult, GcProgress>(api, '/gc',
        { method: 'POST', query: { dryRun: options?.dryRun === true }, signal: options?.signal },
        (p) => { options?.onProgress?.({ type: `gc:${p.phase === 'sweep' ? 'sweep' : 'mark'}:progress`, detail: p }) })
      return gcResultOf(r)
    }
  }
}

/** The frame index's status and rebuild over the daemon's `/api/v1/index`. */
export function remoteIndex (api: ApiClient): NodeServices['index'] {
  return {
    status: async (): Promise<IndexStatus[]> => (await api.json<Wire.IndexStatusList>('/index')).branches.map(indexStatusOf),
    rebuild: async (branch, options) => {
      // Followed as it goes: rebuilding every branch of a big repository takes longer than the client waits on a silent daemon.
      const r = await progressJson<Wire.IndexRebuildResult, RebuildProgress>(api, '/index/rebuild',
        { method: 'POST', query: { branch }, signal: options?.signal },
        (p) => { options?.onProgress?.({ type: 'index:rebuild:progress', detail: p }) })
      return r.updates.map(indexUpdateOf)
    }
  }
}
