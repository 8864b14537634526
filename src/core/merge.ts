import type { CID } from 'multiformats/cid'
import type { ForkRecord } from './commit.ts'
import { compareKeys, diffTrees } from './tree/index.ts'
import type { BlockReader, TreeChange, TreeDiffEntry } from './tree/index.ts'

/** The outcome of a three-way merge of frame trees, before it is written. */
export interface TreeMerge {
  /** Changes to apply to `ours` to get the merged tree. */
  changes: TreeChange[]
  /** Frame ids changed two ways: the merged tree keeps ours, theirs is recorded here. */
  forks: ForkRecord[]
}

function same (a: CID | null, b: CID | null): boolean {
  return a === null ? b === null : b !== null && a.equals(b)
}

/**
 * Three-way merge on frame ids. Reads only what the two diffs from `base` read, so two big trees
 * that differ in a few frames merge in O(changes · log n). Nothing is ever dropped: a conflicting
 * version lives on in `forks`.
 */
export async function mergeTrees (reader: BlockReader, base: CID, ours: CID, theirs: CID, options?: { signal?: AbortSignal }): Promise<TreeMerge> {
  const changes: TreeChange[] = []
  const forks: ForkRecord[] = []
  const oursDiff = diffTrees(reader, base, ours, options)[Symbol.asyncIterator]()
  let o = await oursDiff.next()
  for await (const t of diffTrees(reader, base, theirs, options)) {
    while (o.done !== true && compareKeys(o.value.key, t.key) < 0) o = await oursDiff.next()
    const mine: TreeDiffEntry | undefined = o.done !== true && o.value.key === t.key ? o.value : undefined
    if (mine === undefined) {
      changes.push({ key: t.key, value: t.after })
    } else if (!same(mine.after, t.after)) {
      forks.push({ id: t.key, ours: mine.after, theirs: t.after })
    }
  }
  return { changes, forks }
}

/**
 * `mergeTrees` when what `ours` changed since `base` is already known (`ours`: frame id → its value
 * in ours, null where ours removed it; exactly the ids whose value differs from base): only the
 * diff from `base` to `theirs` is read. The same changes and forks, in the same order, as
 * `mergeTrees` gives. A fold of many trees over one base keeps this map up to date instead of
 * diffing the growing merged tree against the base again at every step.
 */
export async function mergeOverChanges (reader: BlockReader, base: CID, ours: ReadonlyMap<string, CID | null>, theirs: CID, options?: { signal?: AbortSignal }): Promise<TreeMerge> {
  const changes: TreeChange[] = []
  const forks: ForkRecord[] = []
  for await (const t of diffTrees(reader, base, theirs, options)) {
    if (!ours.has(t.key)) {
      changes.push({ key: t.key, value: t.after })
    } else {
      const mine = ours.get(t.key) as CID | null
      if (!same(mine, t.after)) forks.push({ id: t.key, ours: mine, theirs: t.after })
    }
  }
  return { changes, forks }
}
