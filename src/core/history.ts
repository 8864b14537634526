import type { CID } from 'multiformats/cid'
import { decodeCommit } from './commit.ts'
import type { Commit } from './commit.ts'
import type { BlockReader } from './tree/index.ts'

/** A commit and its CID, as history walks yield them. */
export interface CommitEntry {
  cid: CID
  commit: Commit
}

/**
 * Reads a commit. A consensus commit gets the newest of its parents' times (its parents are real
 * commits), so that history walks order it after everything it merges.
 */
export async function readCommit (reader: BlockReader, cid: CID, options?: { signal?: AbortSignal }): Promise<Commit> {
  const commit = decodeCommit(cid, await reader.get(cid, options))
  if (commit.consensus != null) {
    for (const p of commit.parents) commit.time = Math.max(commit.time, (await readCommit(reader, p, options)).time)
  }
  return commit
}

/**
 * The history under `heads`, newest first (by time, then CID for ties), each commit once:
 * the order of `git log`.
 */
export async function * walkHistory (reader: BlockReader, heads: CID[], options?: { signal?: AbortSignal, limit?: number }): AsyncGenerator<CommitEntry> {
  const seen = new Set<string>()
  const queue: CommitEntry[] = []
  const push = async (cid: CID): Promise<void> => {
    const key = cid.toString()
    if (seen.has(key)) return
    seen.add(key)
    queue.push({ cid, commit: await readCommit(reader, cid, options) })
  }
  for (const h of heads) await push(h)
  let emitted = 0
  while (queue.length > 0) {
    // Small queues in practice (the width of the history): a linear scan beats a heap here.
    let best = 0
    for (let i = 1; i < queue.length; i++) {
      const a = queue[i] as CommitEntry
      const b = queue[best] as CommitEntry
      if (a.commit.time > b.commit.time || (a.commit.time === b.commit.time && a.cid.toString() > b.cid.toString())) best = i
    }
    const next = queue.splice(best, 1)[0] as CommitEntry
    yield next
    if (options?.limit != null && ++emitted >= options.limit) return
    for (const p of next.commit.parents) await push(p)
  }
}

/** True if `ancestor` is `descendant` or one of its ancestors. */
export async function isAncestor (reader: BlockReader, ancestor: CID, descendant: CID, options?: { signal?: AbortSignal }): Promise<boolean> {
  if (ancestor.equals(descendant)) return true
  const target = await readCommit(reader, ancestor, options)
  for await (const { cid, commit } of walkHistory(reader, [descendant], options)) {
    if (cid.equals(ancestor)) return true
    // Newest-first order: once we are older than the target it cannot come any more.
    if (commit.time < target.time) return false
  }
  return false
}

/**
 * The best common ancestor of two commits (the newest one reachable from both), or undefined if
 * the histories are unrelated.
 */
export async function mergeBase (reader: BlockReader, a: CID, b: CID, options?: { signal?: AbortSignal }): Promise<CID | undefined> {
  const fromA = new Set<string>()
  for await (const { cid } of walkHistory(reader, [a], options)) fromA.add(cid.toString())
  for await (const { cid } of walkHistory(reader, [b], options)) {
    if (fromA.has(cid.toString())) return cid
  }
  return undefined
}
