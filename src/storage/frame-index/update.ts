import type { CID } from 'multiformats/cid'
import { cidKey } from '../../core/cid.ts'
import { verifyBlock } from '../../core/block.ts'
import { isFramehubError } from '../../core/errors.ts'
import { blockTerms } from '../../core/frame-terms.ts'
import type { FrameTerms } from '../../core/frame-terms.ts'
import { decodeTreeNode, diffTrees, entries, TREE_FANOUT } from '../../core/tree/index.ts'
import type { BlockReader, TreeDiffEntry } from '../../core/tree/index.ts'
import { blockKey } from '../level-db.ts'
import type { RepoDb, WriteBatch } from '../level-db.ts'
import { ChunkedWriter } from './chunked-writer.ts'
import { EMPTY_TREE, indexKeys, indexLimits, metaOp, postingKeys } from './layout.ts'
import type { Op } from './layout.ts'
import { dbReader, indexedTree } from './read.ts'
import type { ReadOptions } from './read.ts'

/*
 * Keeping the frame index at a branch's tree: in the batch of a ref move when the change is small
 * (indexChanges), else by a catch-up or a rebuild written in chunks (updateIndex).
 */

const EMPTY = new Uint8Array(0)

/** A reader that sees the blocks a batch is about to write (e.g. the nodes of a merged tree). */
function batchReader (batch: WriteBatch, fallback: BlockReader): BlockReader {
  const db = batch.db
  let pending: Map<string, Uint8Array> | undefined
  return {
    async get (cid, options) {
      if (pending === undefined) {
        pending = new Map()
        for (const op of batch.ops) if (op.type === 'put' && op.sublevel === db.blocks) pending.set(op.key, op.value)
      }
      const bytes = pending.get(blockKey(cid))
      if (bytes !== undefined) {
        verifyBlock(cid, bytes)
        return bytes
      }
      return await fallback.get(cid, options)
    }
  }
}

/** The index operations that take frame `change.key` from terms `before` to terms `after`. */
function opsFor (branch: string, change: TreeDiffEntry, before: FrameTerms | undefined, after: FrameTerms | undefined): Op[] {
  const ops: Op[] = []
  const old = before != null ? postingKeys(branch, change.key, before) : []
  const now = after != null ? postingKeys(branch, change.key, after) : []
  const keep = new Set(now)
  const had = new Set(old)
  for (const key of old) if (!keep.has(key)) ops.push({ type: 'del', key })
  for (const key of now) if (!had.has(key)) ops.push({ type: 'put', key, value: EMPTY })
  const doc = indexKeys.doc(branch, change.key)
  if (change.after != null) ops.push({ type: 'put', key: doc, value: change.after.bytes })
  else ops.push({ type: 'del', key: doc })
  return ops
}

/** The index operations of many tree changes, their frames read in one multi-get. */
async function changesOps (db: RepoDb, reader: BlockReader, branch: string, changes: TreeDiffEntry[], options: ReadOptions): Promise<Op[]> {
  const cids: CID[] = []
  for (const c of changes) {
    if (c.before != null) cids.push(c.before)
    if (c.after != null) cids.push(c.after)
  }
  options.signal?.throwIfAborted()
  const found = cids.map(cid => db.blocks.getSync(blockKey(cid), { snapshot: options.snapshot }))
  const terms = new Map<string, FrameTerms | undefined>()
  for (let i = 0; i < cids.length; i++) {
    const cid = cids[i] as CID
    let bytes = found[i]
    if (bytes === undefined) bytes = await reader.get(cid, options) // reports the missing block
    else verifyBlock(cid, bytes)
    terms.set(cidKey(cid), blockTerms(cid, bytes))
  }
  const ops: Op[] = []
  for (const c of changes) {
    for (const op of opsFor(branch, c, c.before != null ? terms.get(cidKey(c.before)) : undefined, c.after != null ? terms.get(cidKey(c.after)) : undefined)) ops.push(op)
  }
  return ops
}

/** Frames read per multi-get by catch-ups and rebuilds. */
const READ_CHUNK = 256

/**
 * Adds to `batch` (a ref move of `branch` from `oldTree` to `newTree`, about to be written) the
 * index writes that keep the branch's index at the branch's tree, so both land atomically.
 * Reads O(changes · log n) tree nodes and the changed frames, including blocks the batch itself
 * is about to write. Leaves the index as it is (still correct for the tree it names, only behind)
 * when it was not at `oldTree`'s level of trust or the change is too big for one batch; it then
 * catches up before it is next queried. Returns true when the batch brings the index to `newTree`.
 */
export async function indexChanges (batch: WriteBatch, branch: string, oldTree: CID, newTree: CID, options: ReadOptions & { reader?: BlockReader } = {}): Promise<boolean> {
  const db = batch.db
  const at = await indexedTree(db, branch)
  if (at == null) return false
  if (at.equals(newTree)) return true
  // An index that is behind stays behind (a catch-up brings it to the head, in the background or
  // before the next query): re-diffing from where it is on every ref move would cost each move
  // up to a full batch of reads, again and again, on a large branch.
  if (!at.equals(oldTree)) return false
  const reader = batchReader(batch, options.reader ?? dbReader(db))
  let ops: Op[]
  try {
    // From an empty index (the first commit after a big import) the change is the whole new
    // tree: one far over the limit is given up from the nodes above its leaves (a leaf holds
    // TREE_FANOUT entries on average), without reading a leaf. Giving up is always safe.
    if (at.equals(EMPTY_TREE) && await leavesAtLeast(reader, newTree, Math.ceil(indexLimits.maxBatchOps / 2 / TREE_FANOUT), options)) return false
    // Changed ids first (tree nodes only): a change that cannot fit is given up before any frame is read.
    const changes: TreeDiffEntry[] = []
    for await (const change of diffTrees(reader, at, newTree, options)) {
      changes.push(change)
      if (changes.length * 4 > indexLimits.maxBatchOps) return false
    }
    ops = await changesOps(db, reader, branch, changes, options)
    if (ops.length > indexLimits.maxBatchOps) return false
  } catch (err) {
    if (isFramehubError(err) && err.code === 'ERR_BLOCK_NOT_FOUND') return false
    throw err
  }
  for (const op of ops) {
    if (op.type === 'put') batch.putIndex(op.key, op.value)
    else batch.delIndex(op.key)
  }
  const meta = metaOp(branch, newTree)
  if (meta.type === 'put') batch.putIndex(meta.key, meta.value)
  else batch.delIndex(meta.key)
  return true
}

/**
 * True when tree `root` has at least `n` leaves, reading only its nodes above the leaves (level 1
 * and up, about 1/TREE_FANOUT of its nodes), and stopping as soon as it knows.
 */
async function leavesAtLeast (reader: BlockReader, root: CID, n: number, options: ReadOptions): Promise<boolean> {
  let level = [root]
  for (;;) {
    let next: CID[] = []
    let leaves = 0
    for (const cid of level) {
      options.signal?.throwIfAborted()
      const node = decodeTreeNode(await reader.get(cid, options), cid)
      if (node.level === 0) return n <= 1
      if (node.level === 1) {
        leaves += node.values.length
        if (leaves >= n) return true
      } else {
        next = next.concat(node.values)
      }
    }
    if (next.length === 0) return false
    level = next
  }
}

/** Adds to `batch` (which deletes `branch`) the end of its index; `clearIndexData` then frees the keys. */
export function dropIndex (batch: WriteBatch, branch: string): void {
  batch.delIndex(indexKeys.meta(branch))
}

/** Deletes the index data of a branch (its meta must be gone already, or go first). */
/** Writes the index operations of `changes`, READ_CHUNK changes at a time; returns how many changes there were. */
async function writeChanges (writer: ChunkedWriter, changes: AsyncIterable<TreeDiffEntry>, ops: (changes: TreeDiffEntry[]) => Promise<Op[]>): Promise<number> {
  let count = 0
  let chunk: TreeDiffEntry[] = []
  for await (const change of changes) {
    count++
    chunk.push(change)
    if (chunk.length >= READ_CHUNK) {
      await writer.add(await ops(chunk))
      chunk = []
    }
  }
  await writer.add(await ops(chunk))
  return count
}

export async function clearIndexData (db: RepoDb, branch: string): Promise<void> {
  await db.index.del(indexKeys.meta(branch))
  await db.index.clear({ gte: indexKeys.base(branch), lt: indexKeys.end(branch) })
}

export interface IndexUpdate {
  branch: string
  /** What was done: nothing (already there), a diff applied, a full rebuild, or the index dropped. */
  mode: 'current' | 'incremental' | 'rebuild' | 'drop'
  /** The tree the index now describes (null after a drop). */
  tree: CID | null
  /** Frames read (changed frames, or every frame for a rebuild). */
  frames: number
  /** Index keys written or deleted. */
  keys: number
}

/**
 * Brings the index of `branch` to `target` (null: the branch is gone, drop its index). From the
 * tree it describes, by a diff; from scratch when it cannot be trusted, when that tree is not
 * readable any more, or when `rebuild` is set. Writes in chunks: memory stays flat. The caller
 * keeps other writers of this branch's index (ref moves) out while it runs.
 */
export async function updateIndex (db: RepoDb, reader: BlockReader, branch: string, target: CID | null, options: ReadOptions & { rebuild?: boolean } = {}): Promise<IndexUpdate> {
  if (target == null) {
    await clearIndexData(db, branch)
    return { branch, mode: 'drop', tree: null, frames: 0, keys: 0 }
  }
  const at = options.rebuild === true ? null : await indexedTree(db, branch)
  if (at?.equals(target) === true) return { branch, mode: 'current', tree: target, frames: 0, keys: 0 }
  const ops = async (changes: TreeDiffEntry[]): Promise<Op[]> => await changesOps(db, reader, branch, changes, options)
  if (at != null) {
    const writer = new ChunkedWriter(db, branch, false)
    try {
      const frames = await writeChanges(writer, diffTrees(reader, at, target, options), ops)
      await writer.finish(target)
      return { branch, mode: 'incremental', tree: target, frames, keys: writer.written }
    } catch (err) {
      // The tree the index describes is gone (or unreadable): start over from the target.
      if (!(isFramehubError(err) && (err.code === 'ERR_BLOCK_NOT_FOUND' || err.code === 'ERR_BLOCK_CORRUPT'))) throw err
    }
  }
  await clearIndexData(db, branch)
  const writer = new ChunkedWriter(db, branch, true)
  const frames = await writeChanges(writer, (async function * () {
    for await (const entry of entries(reader, target, options)) yield { key: entry.key, before: null, after: entry.value }
  })(), ops)
  await writer.finish(target)
  return { branch, mode: 'rebuild', tree: target, frames, keys: writer.written }
}
