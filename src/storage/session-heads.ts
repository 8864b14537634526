import type { CID } from 'multiformats/cid'
import { encodeCbor, encodeCid, encodeText, keys } from './state.ts'
import type { StateReader } from './state.ts'
import type { WriteBatch } from './level-db.ts'

/** Where a session stands: its open routes, the step appended last, and whether a commit has named it since. */
export interface SessionState {
  heads: CID[]
  /** The step appended last: the default parent of the next one. */
  head: CID | undefined
  /** Appended to since the last commit (the next commit names its heads). */
  dirty: boolean
}

/**
 * Session heads, read through an in-memory cache. All writes to them go through this store inside
 * the services' `exclusive` section, and LevelDB's lock keeps other processes out, so the cache
 * cannot go stale; it saves the reads that otherwise dominate a trace append.
 */
export interface SessionHeads {
  get (session: string): Promise<SessionState | undefined>
  /** Records a new state in `batch`; the cache follows once `batch` is written (call `commit` after). */
  set (batch: WriteBatch, session: string, state: SessionState): () => void
  /** Sessions appended to since the last commit. */
  dirty (): Promise<Array<{ session: string, heads: CID[] }>>
  /** Marks every session as named by a commit (in `batch`); returns the cache update to run after the write. */
  clearDirty (batch: WriteBatch, sessions: string[]): () => void
}

export function createSessionHeads (state: StateReader): SessionHeads {
  const cache = new Map<string, SessionState>()
  const load = async (session: string): Promise<SessionState | undefined> => {
    const heads = await state.cbor<CID[]>(keys.sessionHeads(session))
    if (heads == null) return undefined
    return { heads, head: await state.cid(keys.sessionHead(session)), dirty: await state.bytes(keys.sessionDirty(session)) != null }
  }
  return {
    async get (session) {
      const hit = cache.get(session)
      if (hit != null) return hit
      const loaded = await load(session)
      if (loaded != null) {
        if (cache.size >= 4096) cache.clear()
        cache.set(session, loaded)
      }
      return loaded
    },
    set (batch, session, next) {
      batch.putState(keys.sessionHeads(session), encodeCbor(next.heads))
      if (next.head != null) batch.putState(keys.sessionHead(session), encodeCid(next.head))
      if (next.dirty && cache.get(session)?.dirty !== true) batch.putState(keys.sessionDirty(session), encodeText('1'))
      return () => { cache.set(session, next) }
    },
    async dirty () {
      const out: Array<{ session: string, heads: CID[] }> = []
      for await (const [session] of state.scan(keys.sessionDirtyPrefix)) {
        const s = await this.get(session)
        if (s != null) out.push({ session, heads: s.heads })
      }
      return out
    },
    clearDirty (batch, sessions) {
      for (const s of sessions) batch.delState(keys.sessionDirty(s))
      return () => { for (const s of sessions) { const c = cache.get(s); if (c != null) c.dirty = false } }
    }
  }
}
