/**
 * Commit of the N-frame import (timed by frame-import.ts) and the diff of two N-frame trees that
 * differ in a few frames (default 10: some changed, some added, some removed): time and blocks read
 * through a counting reader, beside the node count and depth of the tree.
 */
import type { CID } from 'multiformats/cid'
import { diffTrees, treeNodes } from '../../src/core/tree/index.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { countingReader, frameId, log, makeFrame, now, prng, round } from './common.ts'
import type { BenchConfig } from './common.ts'
import { allMet, judge, reasonLine } from './goals.ts'
import type { Judged } from './goals.ts'
import type { FrameImportHandoff } from './frame-import.ts'

export interface CommitDiffReport {
  tree: {
    frames: number
    nodes: number
    /** Levels of the tree (a leaf-only tree has depth 1). */
    depth: number
    nodesPerLevel: number[]
    meanLeafEntries: number
  }
  /** Staging the small change set on the N-frame tree (mutateTree path) and committing it. */
  change: { changed: number, added: number, removed: number, stageMs: number, commitMs: number }
  diff: {
    differences: number
    /** `commits.diff(A, B)` on a freshly opened node (cold LevelDB cache), then the median of 5 warm runs. */
    firstMs: number
    medianMs: number
    /** Tree nodes read by `diffTrees` (counting reader), and the bytes they hold. */
    blocksRead: number
    bytesRead: number
    /** Reference points: 2 trees × differences × depth, and the whole tree. */
    boundTwoTreesTimesChangesTimesDepth: number
    fractionOfTreeNodes: number
  }
  /** Judged by goals.ts: blocks read within the bound and the first diff under 100 ms. */
  goal: { note: string, met: boolean, blocksRead: Judged, firstMs: Judged, reason?: string }
}

/** Blocks read at most `bound` (2 trees × differences × depth) and the first diff under 100 ms; a missing figure is not met. */
export function commitDiffGoal (blocksRead: number | null, bound: number, firstMs: number | null): CommitDiffReport['goal'] {
  const judged = { blocksRead: judge(blocksRead, { below: bound + 1 }), firstMs: judge(firstMs, { below: 100 }) }
  const met = allMet(Object.values(judged))
  return {
    note: 'blocks read ≤ 2 trees × differences × depth (O(10·log n)) and the diff takes milliseconds (< 100 ms)',
    met,
    ...judged,
    ...(met ? {} : { reason: reasonLine(judged) })
  }
}

export async function benchCommitDiff (cfg: BenchConfig, handoff: FrameImportHandoff): Promise<{ report: CommitDiffReport, node: FramehubNode, commitB: CID }> {
  let node = handoff.node
  const treeA = handoff.tree

  // Shape of the tree.
  const perLevel = new Map<number, number>()
  let leafEntries = 0
  for await (const { node: n } of treeNodes(node.repo.blocks, treeA)) {
    perLevel.set(n.level, (perLevel.get(n.level) ?? 0) + 1)
    if (n.level === 0) leafEntries += n.keys.length
  }
  const depth = perLevel.size
  const nodesPerLevel = [...perLevel.keys()].sort((a, b) => b - a).map(l => perLevel.get(l) as number)
  const nodes = nodesPerLevel.reduce((a, b) => a + b, 0)
  if (leafEntries !== cfg.frames) throw new Error(`tree holds ${leafEntries} entries, expected ${cfg.frames}`)

  // B = A with a few frames changed, added and removed.
  const n = Math.min(cfg.diffFrames, cfg.frames)
  const removedCount = Math.floor(n / 5)
  const addedCount = Math.floor(n / 5)
  const changedCount = n - removedCount - addedCount
  const rand = prng(cfg.seed + 7)
  const picked = new Set<number>()
  while (picked.size < changedCount + removedCount) picked.add(Math.floor(rand() * cfg.frames))
  const indices = [...picked]
  const changed = indices.slice(0, changedCount)
  const removed = indices.slice(changedCount)
  const lines = [
    ...changed.map(i => JSON.stringify(makeFrame(rand, i, cfg.frameBytes, 1))),
    ...Array.from({ length: addedCount }, (_, k) => JSON.stringify(makeFrame(rand, cfg.frames + k, cfg.frameBytes)))
  ]
  log(`commit/diff: staging ${changedCount} changed, ${addedCount} added, ${removedCount} removed frames`)
  const s0 = now()
  if (lines.length > 0) await node.frames.import(lines)
  for (const i of removed) await node.frames.remove(frameId(i))
  const stageMs = now() - s0
  const c0 = now()
  const b = await node.commits.commit({ message: 'bench: small change' })
  const commitMs = now() - c0
  const treeB = b.tree

  // Re-open: the first diff runs with a cold LevelDB block cache.
  await node.close()
  node = await createNode({ repo: handoff.repoDir })
  const a = handoff.commit.toString()
  const bRef = b.commit.toString()
  let t = now()
  const first = await node.commits.diff(a, bRef)
  const firstMs = now() - t
  const differences = first.added.length + first.removed.length + first.changed.length
  if (first.added.length !== addedCount || first.removed.length !== removedCount || first.changed.length !== changedCount) {
    throw new Error(`diff found ${first.added.length}/${first.removed.length}/${first.changed.length} added/removed/changed, expected ${addedCount}/${removedCount}/${changedCount}`)
  }
  const runs: number[] = []
  for (let i = 0; i < 5; i++) {
    t = now()
    await node.commits.diff(a, bRef)
    runs.push(now() - t)
  }
  runs.sort((x, y) => x - y)
  const counter = countingReader(node.repo.blocks)
  let counted = 0
  for await (const _ of diffTrees(counter, treeA, treeB)) counted++
  if (counted !== differences) throw new Error(`diffTrees found ${counted} differences, commits.diff ${differences}`)
  const bound = 2 * Math.max(1, differences) * depth
  log(`commit/diff: ${differences} differences, ${counter.reads} blocks read of ${nodes} nodes, first ${round(firstMs)} ms`)

  const report: CommitDiffReport = {
    tree: { frames: cfg.frames, nodes, depth, nodesPerLevel, meanLeafEntries: round(leafEntries / Math.max(1, nodesPerLevel.at(-1) ?? 1), 1) },
    change: { changed: changedCount, added: addedCount, removed: removedCount, stageMs: round(stageMs), commitMs: round(commitMs, 2) },
    diff: {
      differences,
      firstMs: round(firstMs, 2),
      medianMs: round(runs[2] ?? 0, 2),
      blocksRead: counter.reads,
      bytesRead: counter.bytes,
      boundTwoTreesTimesChangesTimesDepth: bound,
      fractionOfTreeNodes: round(counter.reads / Math.max(1, nodes), 4)
    },
    goal: commitDiffGoal(counter.reads, bound, round(firstMs, 2))
  }
  return { report, node, commitB: b.commit }
}
