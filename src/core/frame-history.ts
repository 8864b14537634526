import { CID } from 'multiformats/cid'
import { cidKey } from './cid.ts'
import { decodeCbor } from './block.ts'
import { decodeCommit, looksLikeCommit } from './commit.ts'
import type { Commit } from './commit.ts'
import { TreeError, decodeTreeNode, valueAt } from './tree/index.ts'
import type { BlockReader } from './tree/index.ts'
import { ceilIndex, floorIndex } from './tree/keys.ts'
import { EMPTY_NODE } from './tree/node.ts'

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

const isCid = (v: unknown): boolean => CID.asCID(v) != null

/**
 * A commit block, decoded with the checks the walk relies on (links where links belong, text and
 * numbers where they belong); anything else goes through `decodeCommit`, which says what is wrong.
 * The full schema check costs more than the rest of a step of the walk.
 */
function commitOf (cid: CID, bytes: Uint8Array): Commit {
  const value = decodeCbor(cid, bytes)
  if (looksLikeCommit(value)) {
    const c = value as Record<string, unknown>
    if (isCid(c.tree) && Array.isArray(c.parents) && c.parents.every(isCid) && typeof c.author === 'string' &&
      Number.isSafeInteger(c.time) && typeof c.message === 'string' && (c.sessions === undefined || (Array.isArray(c.sessions) && c.sessions.every(isCid)))) {
      return value as Commit
    }
  }
  return decodeCommit(cid, bytes)
}

/**
 * The versions of frame `id` in the history under `head`, newest first (by commit time, then
 * CID, as `git log`): each commit whose tree maps `id` to something else than its parents' do,
 * like `git log --follow -- PATH` with Git's default history simplification. Only the id's entry
 * is looked up in each tree (O(log n) nodes, as `getEntry`; nodes shared with a tree already
 * looked at are not read again), never a whole tree: the walk costs O(commits · log n) blocks,
 * and a commit that changed nothing on the id's path costs its commit block and its root. Where a merge commit holds
 * the same version as one of its parents, only that parent's history is followed (the version
 * came from there); a merge that holds a version none of its parents held is itself a version.
 */
export async function * frameVersions (reader: BlockReader, head: CID, id: string, options: FrameVersionsOptions = {}): AsyncGenerator<FrameVersion> {
  const { signal, limit } = options
  const commits = new Map<string, Commit>()
  const readCommit = async (cid: CID): Promise<Commit> => {
    const key = cidKey(cid)
    let commit = commits.get(key)
    if (commit == null) {
      commit = commitOf(cid, await reader.get(cid, { signal }))
      commits.set(key, commit)
    }
    return commit
  }
  // The id's entry under each tree node met, by node CID: a subtree that two trees share is read
  // and decoded once, so each commit costs only the nodes that changed on the id's path (the
  // Merkle diff of consecutive trees, along one key).
  const under = new Map<string, CID | null>()
  const entryUnder = async (cid: CID, level?: number): Promise<CID | null> => {
    const key = cidKey(cid)
    const known = under.get(key)
    if (known !== undefined) return known
    signal?.throwIfAborted()
    const node = cid.equals(EMPTY_NODE.cid) ? EMPTY_NODE.node : decodeTreeNode(await reader.get(cid, { signal }), cid)
    if (level !== undefined && node.level !== level) throw new TreeError(`tree node ${cid} has level ${node.level} where level ${level} is expected`, { cid: cid.toString() })
    let value: CID | null
    if (node.level === 0) {
      const i = ceilIndex(node.keys, id)
      value = node.keys[i] === id ? valueAt(node, i) : null
    } else {
      const i = floorIndex(node.keys, id)
      value = i < 0 ? null : await entryUnder(valueAt(node, i), node.level - 1)
    }
    under.set(key, value)
    return value
  }
  const entryIn = async (commit: Commit): Promise<CID | null> => await entryUnder(commit.tree)
  const same = (a: CID | null, b: CID | null): boolean => a == null ? b == null : b != null && a.equals(b)

  const seen = new Set<string>()
  const queue: Array<{ cid: CID, key: string, commit: Commit }> = []
  const push = async (cid: CID): Promise<void> => {
    const key = cidKey(cid)
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
      // Ties by CID text, as `git log` here orders them (walkHistory).
      if (a.commit.time > b.commit.time || (a.commit.time === b.commit.time && a.cid.toString() > b.cid.toString())) best = i
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
