import { CID } from 'multiformats/cid'
import { fromJsonView } from '../core/json-view.ts'
import type { Commit, ForkRecord } from '../core/commit.ts'
import type { CommitService, DiffResult, ForkInfo } from '../services/commits.ts'
import { RefNotFoundError } from '../core/errors.ts'
import type * as Wire from '../core/api-types.ts'
import { changeOf } from '../services/views.ts'
import { isDotSegment, segment } from './api.ts'
import type { ApiClient } from './api.ts'

const PAGE = 1000
/** Forks are not paginated by the gateway; this is its largest answer. */
const MAX_FORKS = 10_000

const cidOrNull = (text: string | null): CID | null => text == null ? null : CID.parse(text)

/** CommitService over the daemon's `/api/v1/commits`, `/diff`, `/merge` and `/forks`. */
export function remoteCommits (api: ApiClient): CommitService {
  return {
    commit: async (options) => {
      const r = await api.json<Wire.CommitResult>('/commits', {
        method: 'POST',
        json: { message: options.message, allowEmpty: options.allowEmpty },
        signal: options.signal
      })
      return { commit: CID.parse(r.commit), tree: CID.parse(r.tree), branch: r.branch, parents: r.parents.map(p => CID.parse(p)), sessions: r.sessions.map(s => CID.parse(s)) }
    },

    async * log (ref, options) {
      let cursor: string | undefined
      let count = 0
      do {
        const want = options?.limit != null ? Math.min(PAGE, options.limit - count) : PAGE
        if (want <= 0) return
        const page = await api.json<Wire.CommitLog>('/commits', {
          query: cursor != null ? { cursor, limit: want } : { ref, limit: want },
          signal: options?.signal
        })
        for (const entry of page.commits) {
          yield { cid: CID.parse(entry.cid), commit: fromJsonView(entry.commit) as Commit }
          count++
        }
        cursor = page.cursor ?? undefined
      } while (cursor != null)
    },

    show: async (spec, options) => {
      // Not a branch (names cannot be dots) nor a CID; and a URL cannot carry it as a path segment.
      if (isDotSegment(spec)) throw new RefNotFoundError(`unknown ref "${spec}": not a branch and not a CID`, { ref: spec })
      const r = await api.json<Wire.ShownBlock>(`/commits/${segment(spec)}`, { signal: options?.signal })
      return { type: r.type, cid: CID.parse(r.cid), value: r.value }
    },

    diff: async (a, b, options) => {
      const r = await api.json<Wire.DiffResult>('/diff', { query: { from: a, to: b }, signal: options?.signal })
      const out: DiffResult = { added: r.added.map(changeOf), removed: r.removed.map(changeOf), changed: r.changed.map(changeOf) }
      return out
    },

    merge: async (ref, options) => {
      const r = await api.json<Wire.MergeResult>('/merge', {
        method: 'POST',
        json: { ref, message: options?.message },
        signal: options?.signal
      })
      const forks: ForkRecord[] = r.forks.map(f => ({ id: f.id, ours: cidOrNull(f.ours), theirs: cidOrNull(f.theirs) }))
      return { commit: CID.parse(r.commit), mode: r.mode, forks }
    },

    async * forks (options) {
      const r = await api.json<Wire.ForkList>('/forks', { query: { branch: options?.branch, limit: MAX_FORKS } })
      for (const f of r.forks) {
        // Fields in the order the store decodes them in-process (DAG-CBOR key order), so --json output is the same.
        const info: ForkInfo = {
          id: f.id,
          from: CID.parse(f.from as string),
          ours: cidOrNull(f.ours),
          merge: CID.parse(f.merge as string),
          branch: f.branch as string,
          theirs: cidOrNull(f.theirs)
        }
        yield info
      }
    }
  }
}
