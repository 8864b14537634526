import type { CID } from 'multiformats/cid'
import { encodeBlock } from '../block.ts'
import type { Block } from '../block.ts'
import type { Commit, ForkRecord } from '../commit.ts'
import { CommitInvalidError } from '../errors.ts'
import { mergeOverChanges } from '../merge.ts'
import { diffTrees, emptyTree, mutateTree, treeNodes } from '../tree/index.ts'
import type { BlockReader, TreeBlock } from '../tree/index.ts'
import { compareCidBytes } from './graph.ts'
import type { CommitGraph } from './graph.ts'

/** Version of the consensus rule (in consensus commits and decision records). */
export const CONSENSUS_RULE = 1

/** A consensus commit, ready to store: its block, its decoded view and the tree nodes it adds. */
export interface ConsensusCommitBuild extends Block {
  commit: Commit
  /** Tree nodes of the merged tree that its parents' trees do not have (the caller stores them). */
  blocks: TreeBlock[]
  forks: ForkRecord[]
  /** Frame states the folds merged in (changes taken from a next parent, plus conflicts): the conflict rate is forks / states. */
  states: number
}

/** Reads new tree nodes from memory first, then from the store. */
class Overlay implements BlockReader {
  readonly added = new Map<string, TreeBlock>()
  private readonly under: BlockReader
  constructor (under: BlockReader) { this.under = under }
  async get (cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array> {
    return this.added.get(cid.toString())?.bytes ?? await this.under.get(cid, options)
  }

  add (blocks: TreeBlock[]): void { for (const b of blocks) this.added.set(b.cid.toString(), b) }
}

/**
 * The consensus commit of `parents` (the maximal candidates, highest score first). The tree is
 * their three-way merges folded in that order: the first parent's tree, then each next parent
 * merged in over the best common ancestor it has with the parents before it. A frame id changed
 * two ways keeps the version already folded in (the higher-scored one) and records the other as a
 * fork. No author, time or signature: every node that computes it gets the same CID.
 */
export async function buildConsensusCommit (graph: CommitGraph, parents: CID[], options: { signal?: AbortSignal } = {}): Promise<ConsensusCommitBuild> {
  if (parents.length < 2) throw new CommitInvalidError('a consensus commit merges at least two commits')
  const overlay = new Overlay(graph.reader)
  const first = await graph.commit(parents[0] as CID)
  let tree = first.tree
  const forks: ForkRecord[] = []
  let states = 0
  // What the tree folded so far changed since the base of the last fold: kept across folds over
  // the same base (the usual case: every candidate grew from one ancestor), so a fold reads only
  // the next parent's diff, not the growing merged tree's diff again.
  let since: { base: CID, changes: Map<string, CID | null> } | undefined
  for (let i = 1; i < parents.length; i++) {
    const next = parents[i] as CID
    let base: CID | undefined
    let baseHeight = 0
    for (let j = 0; j < i; j++) {
      const b = await graph.mergeBase(parents[j] as CID, next)
      if (b === undefined) continue
      const h = await graph.height(b)
      if (base === undefined || h > baseHeight || (h === baseHeight && compareCidBytes(b, base) < 0)) { base = b; baseHeight = h }
    }
    const baseTree = base === undefined ? emptyTree().root : (await graph.commit(base)).tree
    if (since === undefined || !since.base.equals(baseTree)) {
      since = { base: baseTree, changes: new Map() }
      for await (const d of diffTrees(overlay, baseTree, tree, options)) since.changes.set(d.key, d.after)
    }
    const merged = await mergeOverChanges(overlay, baseTree, since.changes, (await graph.commit(next)).tree, options)
    forks.push(...merged.forks)
    states += merged.changes.length + merged.forks.length
    if (merged.changes.length > 0) {
      const result = await mutateTree(overlay, tree, merged.changes, options)
      overlay.add(result.blocks)
      tree = result.root
      // Each change is theirs, which differs from the base there.
      for (const c of merged.changes) since.changes.set(c.key, c.value)
    }
  }
  // Keep only the new nodes the final tree reaches (earlier folds may have made some it dropped).
  const blocks: TreeBlock[] = []
  if (overlay.added.size > 0) {
    for await (const n of treeNodes(overlay, tree, options)) {
      const added = overlay.added.get(n.cid.toString())
      if (added !== undefined) blocks.push(added)
    }
  }
  const value: Record<string, unknown> = { consensus: CONSENSUS_RULE, tree, parents }
  if (forks.length > 0) value.forks = forks
  const block = encodeBlock(value, 'consensus commit')
  const commit: Commit = { tree, parents, author: '', time: 0, message: '', sig: new Uint8Array(0), consensus: CONSENSUS_RULE, ...(forks.length > 0 ? { forks } : {}) }
  for (const p of parents) commit.time = Math.max(commit.time, (await graph.commit(p)).time)
  return { ...block, commit, blocks, forks, states }
}

/**
 * Checks a consensus commit by recomputing it from its parents: the same parents in the same
 * order must give the same block. Throws `ERR_COMMIT_INVALID` otherwise.
 */
export async function checkConsensusCommit (graph: CommitGraph, cid: CID, commit: Commit, options: { signal?: AbortSignal } = {}): Promise<void> {
  for (const p of commit.parents) {
    if ((await graph.commit(p)).consensus != null) throw new CommitInvalidError(`consensus commit ${cid} has a consensus commit as parent (${p})`, { cid: cid.toString() })
  }
  const again = await buildConsensusCommit(graph, commit.parents, options)
  const key = cid.toString()
  if (again.cid.toString() !== key) {
    throw new CommitInvalidError(`consensus commit ${key} is not the merge of its parents (recomputed: ${again.cid})`, { cid: key })
  }
}
