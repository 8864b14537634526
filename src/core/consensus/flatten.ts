import type { CID } from 'multiformats/cid'
import { CommitInvalidError } from '../errors.ts'
import { compareCidBytes } from './graph.ts'
import type { CommitGraph } from './graph.ts'

/** Consensus commits nested deeper than this are not a proposal any node made. */
const MAX_DEPTH = 8

/**
 * The real commits behind a proposal: a consensus commit holds nothing of its own, so it is
 * replaced by its parents, until only commits written by nodes remain. Sorted by CID bytes, each
 * once. This is what makes the head a pure function of the real commits seen, so that nodes do
 * not prefer their own consensus commits and merges never ping-pong.
 */
export async function flatten (graph: CommitGraph, head: CID): Promise<CID[]> {
  const out = new Map<string, CID>()
  const visit = async (cid: CID, depth: number): Promise<void> => {
    const commit = await graph.commit(cid)
    if (commit.consensus == null) { out.set(cid.toString(), cid); return }
    if (depth >= MAX_DEPTH) throw new CommitInvalidError(`consensus commit ${cid} nests more than ${MAX_DEPTH} consensus commits`, { cid: cid.toString() })
    for (const p of commit.parents) await visit(p, depth + 1)
  }
  await visit(head, 0)
  return [...out.values()].sort(compareCidBytes)
}
