import type { CID } from 'multiformats/cid'
import { cidString } from './codec.ts'
import { decodeCommit } from './commit.ts'
import type { Commit } from './commit.ts'
import { getEntry } from './tree/index.ts'
import type { BlockReader } from './tree/index.ts'

/** One version of a frame: the commit that wrote it (or removed the id). */
export interface FrameVersion {
  commit: CID
  /** The commit itself (author, time, message, sessions). */
  value: Commit
  /** The frame's CID in this commit's tree; null: the commit removed the id. */
  cid: CID | null
}

export interface FrameVersionsOptions {
  signal?: AbortSignal
  /** Stop after this many versions. */
  limit?: number
  /** Called with every commit the walk reads, in walk order (newest first), versions or not. */
  onCommit?: (cid: CID, commit: Commit) => void
}

/** Tree nodes kept between lookups: consecutive trees share most of the path to an id. */
const NODE_CACHE = 256

/**
 * A reader that keeps the most recent `size` blocks it read: the lookup of one id in a commit's
 * tree and in its parent's reads the shared nodes once.
 */
function cachingReader (reader: BlockReader, size: number): BlockReader {
  const cache = new Map<string, Uint8Array>()
  return {
    get: async (cid, options) => {
      const key = cidString(cid)
      const hit = cache.get(key)
      if (hit != null) return hit
      const bytes = await reader.get(cid, options)
      if (cache.size >= size) cache.delete(cache.keys().next().value as string)
      cache.set(key, bytes)
      return bytes
    }
  }
}

/**
 * The versions of frame `id` in the history under `head`, newest first (by commit time, then
 * CID, as `git log`): each commit whose tree maps `id` to something else than its parents' do,
 * like `git log --follow -- PATH` with Git's default history simplification. Only the id's entry
 * is looked up in each tree (`getEntry`, O(log n) nodes, nodes shared with the previous tree read
 * once), never a whole tree: the walk costs O(commits · log n) blocks. Where a merge commit holds
 * the same version as one of its parents, only that parent's history is followed (the version
 * came from there); a merge that holds a version none of its parents held is itself a version.
 */
export async function * frameVersions (reader: BlockReader, head: CID, id: string, options: FrameVersionsOptions = {}): AsyncGenerator<FrameVersion> {
  const { signal, limit } = options
  const blocks = cachingReader(reader, NODE_CACHE)
  const commits = new Map<string, Commit>()
  const readCommit = async (cid: CID): Promise<Commit> => {
    const key = cidString(cid)
    let commit = commits.get(key)
    if (commit == null) {
      commit = decodeCommit(cid, await reader.get(cid, { signal }))
      commits.set(key, commit)
    }
    return commit
  }
  // The id's entry per tree (many commits share a tree: merges, empty commits).
  const entries = new Map<string, CID | null>()
  const entryIn = async (commit: Commit): Promise<CID | null> => {
    const key = cidString(commit.tree)
    if (entries.has(key)) return entries.get(key) as CID | null
    const value = await getEntry(blocks, commit.tree, id, { signal }) ?? null
    entries.set(key, value)
    return value
  }
  const same = (a: CID | null, b: CID | null): boolean => a == null ? b == null : b != null && a.equals(b)

  const seen = new Set<string>()
  const queue: Array<{ cid: CID, key: string, commit: Commit }> = []
  const push = async (cid: CID): Promise<void> => {
    const key = cidString(cid)
    if (seen.has(key)) return
    seen.add(key)
    queue.push({ cid, key, commit: await readCommit(cid) })
  }
  await push(head)
  let emitted = 0
  while (queue.length > 0) {
    signal?.throwIfAborted()
    // The width of the history is small: a linear scan for the newest beats a heap here.
    let best = 0
    for (let i = 1; i < queue.length; i++) {
      const a = queue[i] as typeof queue[number]
      const b = queue[best] as typeof queue[number]
      if (a.commit.time > b.commit.time || (a.commit.time === b.commit.time && a.key > b.key)) best = i
    }
    const { cid, commit } = queue.splice(best, 1)[0] as typeof queue[number]
    options.onCommit?.(cid, commit)
    const value = await entryIn(commit)
    let follow: CID[] = []
    let changed = true
    for (const p of commit.parents) {
      if (same(value, await entryIn(await readCommit(p)))) {
        // TREESAME to this parent: the version (or the absence) came from there.
        follow = [p]
        changed = false
        break
      }
      follow.push(p)
    }
    if (changed && (value != null || commit.parents.length > 0)) {
      yield { commit: cid, value: commit, cid: value }
      if (limit != null && ++emitted >= limit) return
    }
    for (const p of follow) await push(p)
  }
}
