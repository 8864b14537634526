import type { CID } from 'multiformats/cid'
import { compareCidBytes } from './graph.ts'
import type { CommitGraph } from './graph.ts'

/**
 * How far below a proposed consensus commit its proposer's own newest commit is looked for: this
 * many commit heights, and at most this many commits read.
 */
export const VOTE_WINDOW = { heights: 64, commits: 1024 }

/**
 * What a voter votes for (F_n of the rule), from its proposal `head` whose real commits are `flat`:
 * the newest commit the node wrote itself that its proposal contains (the proposal itself when it
 * wrote it; else the highest below it, then smaller CID bytes, within VOTE_WINDOW). Adopting a
 * head (a fast-forward to a peer's commit, or a consensus commit) never changes it, so the scores,
 * and the merge order they give, do not move when the nodes adopt the head they decided. A node
 * that wrote nothing there (it only follows) votes for its proposal's real commits.
 */
export async function votesOf (graph: CommitGraph, node: string, head: CID, flat: CID[]): Promise<CID[]> {
  const floor = await graph.height(head) - VOTE_WINDOW.heights
  const queue: Array<{ cid: CID, height: number }> = [{ cid: head, height: floor + VOTE_WINDOW.heights }]
  const queued = new Set([head.toString()])
  for (let read = 0; queue.length > 0 && read < VOTE_WINDOW.commits; read++) {
    // The highest commit first (then smaller CID bytes): the same walk on every node.
    let best = 0
    for (let i = 1; i < queue.length; i++) {
      const a = queue[i] as { cid: CID, height: number }
      const b = queue[best] as { cid: CID, height: number }
      if (a.height > b.height || (a.height === b.height && compareCidBytes(a.cid, b.cid) < 0)) best = i
    }
    const { cid } = queue.splice(best, 1)[0] as { cid: CID, height: number }
    const commit = await graph.commit(cid)
    if (commit.consensus == null && commit.author === node) return [cid]
    for (const p of commit.parents) {
      const key = p.toString()
      if (queued.has(key)) continue
      queued.add(key)
      const height = await graph.height(p)
      if (height >= floor) queue.push({ cid: p, height })
    }
  }
  return flat
}
