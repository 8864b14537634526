import { CID } from 'multiformats/cid'
import type { NodeServices } from '../node.ts'
import type { IndexStatus, RebuildProgress } from '../services/frame-index.ts'
import type { GcProgress } from '../services/gc.ts'
import type { ApiClient } from './api.ts'
import { progressJson } from './progress.ts'

const cidOrNull = (text: string | null): CID | null => text == null ? null : CID.parse(text)

/** Garbage collection over the daemon's `POST /api/v1/gc`, followed as it goes. */
export function remoteGc (api: ApiClient): NodeServices['gc'] {
  return {
    gc: async (options) => {
      const r = await progressJson<{ removed: number, kept: number, bytesFreed: number, dryRun: boolean }, GcProgress>(api, '/gc',
        { method: 'POST', query: { dryRun: options?.dryRun === true }, signal: options?.signal },
        (p) => { options?.onProgress?.({ type: `gc:${p.phase === 'sweep' ? 'sweep' : 'mark'}:progress`, detail: p }) })
      return { removed: r.removed, kept: r.kept, bytesFreed: r.bytesFreed, dryRun: r.dryRun }
    }
  }
}

interface StatusJson { branch: string, head: string | null, indexed: string | null, current: boolean }
interface UpdateJson { branch: string, mode: 'current' | 'incremental' | 'rebuild' | 'drop', tree: string | null, frames: number, keys: number }

/** The frame index's status and rebuild over the daemon's `/api/v1/index`. */
export function remoteIndex (api: ApiClient): NodeServices['index'] {
  return {
    status: async (): Promise<IndexStatus[]> =>
      (await api.json<{ branches: StatusJson[] }>('/index')).branches
        .map(s => ({ branch: s.branch, head: cidOrNull(s.head), indexed: cidOrNull(s.indexed), current: s.current })),
    rebuild: async (branch, options) => {
      // Followed as it goes: rebuilding every branch of a big repository takes longer than the client waits on a silent daemon.
      const r = await progressJson<{ updates: UpdateJson[] }, RebuildProgress>(api, '/index/rebuild',
        { method: 'POST', query: { branch }, signal: options?.signal },
        (p) => { options?.onProgress?.({ type: 'index:rebuild:progress', detail: p }) })
      return r.updates.map(u => ({ branch: u.branch, mode: u.mode, tree: cidOrNull(u.tree), frames: u.frames, keys: u.keys }))
    }
  }
}
