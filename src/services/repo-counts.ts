import type { CID } from 'multiformats/cid'
import { readCommit } from '../core/history.ts'
import { pacer } from '../core/pace.ts'
import { countEntries, diffTrees } from '../core/tree/index.ts'
import type { BlockReader } from '../core/tree/index.ts'
import type { Refs } from './refs.ts'

/** What a metrics scrape reads: frames per branch head, distinct commits under all branches. */
export interface RepoCounts {
  /** Frames in the committed tree of each branch. */
  frames: Map<string, number>
  /** Distinct commits reachable from the branches. */
  commits: number
}

/**
 * Counts for `/metrics` that are kept up to date from what changed, not recounted on every
 * scrape. Commits and trees are immutable, so:
 * - frames of a branch: counted once (a walk of its tree), then moved by the tree diff between
 *   the last counted tree and the new one (O(changes · log n) nodes);
 * - commits: the set of commits seen under the branch heads; a new head adds the commits walked
 *   back from it until the walk reaches commits already seen (every stored commit's history is
 *   complete). A deleted branch starts the count over, on the next scrape.
 * The first scrape walks everything once, yielding to the event loop as it goes.
 */
export interface RepoCounterComponents {
  blocks: BlockReader
  refs: Pick<Refs, 'listBranches' | 'treeOfCommit'>
}

export function repoCounter ({ blocks: reader, refs }: RepoCounterComponents): () => Promise<RepoCounts> {
  const trees = new Map<string, { tree: CID, frames: number }>()
  let seen = new Set<string>()
  let heads = new Map<string, string>()
  let running: Promise<RepoCounts> | undefined

  const framesOf = async (branch: string, tree: CID): Promise<number> => {
    const last = trees.get(branch)
    let frames: number
    if (last === undefined) {
      frames = await countEntries(reader, tree)
    } else if (last.tree.equals(tree)) {
      return last.frames
    } else {
      frames = last.frames
      for await (const change of diffTrees(reader, last.tree, tree)) {
        if (change.before === null) frames++
        else if (change.after === null) frames--
      }
    }
    trees.set(branch, { tree, frames })
    return frames
  }

  const addHistory = async (head: CID): Promise<void> => {
    const pace = pacer()
    const stack = [head]
    while (stack.length > 0) {
      const cid = stack.pop() as CID
      const key = cid.toString()
      if (seen.has(key)) continue
      seen.add(key)
      await pace()
      for (const parent of (await readCommit(reader, cid)).parents) {
        if (!seen.has(parent.toString())) stack.push(parent)
      }
    }
  }

  const count = async (): Promise<RepoCounts> => {
    const branches = await refs.listBranches()
    const now = new Map(branches.map(b => [b.name, b.commit.toString()]))
    // Branch heads only move forward (commit, merge, fast-forward); one that went away may have
    // taken commits with it, so the set is rebuilt.
    if ([...heads.keys()].some(name => !now.has(name))) seen = new Set()
    for (const name of trees.keys()) if (!now.has(name)) trees.delete(name)
    heads = now
    const frames = new Map<string, number>()
    for (const branch of branches) {
      await addHistory(branch.commit)
      frames.set(branch.name, await framesOf(branch.name, await refs.treeOfCommit(branch.commit)))
    }
    return { frames, commits: seen.size }
  }

  // Two scrapes at once share one count.
  return async () => {
    running ??= count().finally(() => { running = undefined })
    return await running
  }
}
