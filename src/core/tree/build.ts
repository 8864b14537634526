import { CID } from 'multiformats/cid'
import { quoteKey, TreeInputError } from './errors.ts'
import { compareKeys, isBoundary, isValidKey } from './keys.ts'
import { encodePackedNodeBytes } from './cbor.ts'
import { emptyTree, encodeNode, nodeBlock } from './node.ts'
import type { TreeBlock, TreeEntry, TreeNode, TreeResult } from './types.ts'

/** A node made by this call: its block and its decoded form. */
export interface NewNode extends TreeBlock {
  node: TreeNode
}

/** Encodes `node` and appends it to `out`. */
export function emitNode (node: TreeNode, out: NewNode[]): NewNode {
  const block = encodeNode(node)
  const made = { cid: block.cid, bytes: block.bytes, node }
  out.push(made)
  return made
}

/** Cuts one level (sorted entries) into nodes: a node ends after each boundary key and at the end. */
export function chunkLevel (keys: readonly string[], values: readonly CID[], level: number, out: NewNode[]): NewNode[] {
  const made: NewNode[] = []
  let start = 0
  for (let i = 0; i < keys.length; i++) {
    if (isBoundary(keys[i] as string, level) || i === keys.length - 1) {
      made.push(emitNode({ level, keys: keys.slice(start, i + 1), values: values.slice(start, i + 1) }, out))
      start = i + 1
    }
  }
  return made
}

/**
 * A leaf whose values are packed CIDs (`encodePackedNodeBytes`): its CID objects are made only
 * if something reads `values` (building the tree above it does not).
 */
function packedLeaf (keys: string[], cids: Uint8Array, first: number, width: number): TreeNode {
  let values: CID[] | undefined
  return {
    level: 0,
    keys,
    get values () {
      values ??= keys.map((_, i) => CID.decode(cids.slice((first + i) * width, (first + i + 1) * width)))
      return values
    }
  }
}

/** `chunkLevel` of the leaves of entries `from` to `to` (a leaf ends at `to`), their values packed CIDs. */
function chunkPackedLeaves (keys: readonly string[], cids: Uint8Array, width: number, out: NewNode[], from = 0, to = keys.length): NewNode[] {
  const made: NewNode[] = []
  let start = from
  for (let i = from; i < to; i++) {
    if (isBoundary(keys[i] as string, 0) || i === to - 1) {
      const nodeKeys = keys.slice(start, i + 1)
      const block = nodeBlock(encodePackedNodeBytes(0, nodeKeys, cids, start, width))
      const node = { cid: block.cid, bytes: block.bytes, node: packedLeaf(nodeKeys, cids, start, width) }
      out.push(node)
      made.push(node)
      start = i + 1
    }
  }
  return made
}

/**
 * The first index at or after `at` where a leaf starts in the tree of `keys` (sorted): right
 * after a boundary key, or `keys.length`. The leaves of the entries before it and of those from
 * it on, made apart, are the tree's own leaves.
 */
export function leafStart (keys: readonly string[], at: number): number {
  let i = Math.max(0, Math.min(at, keys.length))
  while (i > 0 && i < keys.length && !isBoundary(keys[i - 1] as string, 0)) i++
  return i
}

/**
 * Leaves made apart (on another thread), their blocks back to back: the `i`-th has `counts[i]`
 * entries, its block ends at `ends[i]` in `bytes`, and its CID is `cids` from `i * cidWidth`.
 * Plain buffers only, so they cross threads without a copy.
 */
export interface PackedLeaves {
  bytes: Uint8Array<ArrayBuffer>
  ends: Uint32Array<ArrayBuffer>
  counts: Uint32Array<ArrayBuffer>
  cids: Uint8Array<ArrayBuffer>
  cidWidth: number
}

/**
 * The leaves of entries in strictly ascending key order whose values are packed CIDs (as for
 * `buildTreeOfPacked`), packed to cross threads. `keys` start at a leaf (see `leafStart`) and end
 * where one ends. Throws `TreeInputError` for keys out of order or not well-formed.
 */
export function packLeaves (keys: string[], cids: Uint8Array, width: number): PackedLeaves {
  if (cids.byteLength !== keys.length * width) throw new TreeInputError(`${keys.length} keys need ${keys.length * width} bytes of CIDs, not ${cids.byteLength}`)
  if (!checkKeys(keys).sorted) throw new TreeInputError('packed tree entries must be in strictly ascending key order')
  const leaves = chunkPackedLeaves(keys, cids, width, [])
  let size = 0
  for (const leaf of leaves) size += leaf.bytes.byteLength
  const cidWidth = leaves[0]?.cid.bytes.byteLength ?? 0
  const packed: PackedLeaves = { bytes: new Uint8Array(size), ends: new Uint32Array(leaves.length), counts: new Uint32Array(leaves.length), cids: new Uint8Array(leaves.length * cidWidth), cidWidth }
  let at = 0
  leaves.forEach((leaf, i) => {
    packed.bytes.set(leaf.bytes, at)
    at += leaf.bytes.byteLength
    packed.ends[i] = at
    packed.counts[i] = leaf.node.keys.length
    packed.cids.set(leaf.cid.bytes, i * cidWidth)
  })
  return packed
}

/**
 * The leaves of entries `from` to `to` of a packed tree, as `buildTreeOfPacked` makes them: both
 * are `leafStart`s (or the end), and the other leaves are made apart (`packLeaves`). Throws
 * `TreeInputError` for keys out of order (up to the next entry) or a range that is not whole leaves.
 */
export function packedLeavesOf (keys: string[], cids: Uint8Array, width: number, from: number, to: number): NewNode[] {
  if (cids.byteLength !== keys.length * width) throw new TreeInputError(`${keys.length} keys need ${keys.length * width} bytes of CIDs, not ${cids.byteLength}`)
  if (from < 0 || to <= from || to > keys.length || leafStart(keys, from) !== from || leafStart(keys, to) !== to) throw new TreeInputError(`entries ${from} to ${to} are not whole leaves`)
  if (!checkKeys(keys, from, Math.min(to + 1, keys.length)).sorted) throw new TreeInputError('packed tree entries must be in strictly ascending key order')
  return chunkPackedLeaves(keys, cids, width, [], from, to)
}

/** The root above a level's nodes (all of them, in order), and the blocks of the levels above it. */
export function treeAbove (leaves: NewNode[]): { root: CID, blocks: TreeBlock[] } {
  const out: NewNode[] = []
  const root = buildUp(leaves, out)
  return { root: root.cid, blocks: out.map(n => ({ cid: n.cid, bytes: n.bytes })) }
}

/**
 * The nodes of leaves made apart (`packLeaves` of the entries from `from` on, a `leafStart`);
 * throws `TreeInputError` if they do not hold exactly those entries.
 */
export function unpackLeaves (keys: string[], cids: Uint8Array, width: number, from: number, apart: PackedLeaves): NewNode[] {
  const made: NewNode[] = []
  let start = from
  let at = 0
  for (let i = 0; i < apart.counts.length; i++) {
    const count = apart.counts[i] as number
    const end = apart.ends[i] as number
    if (count === 0 || start + count > keys.length || end < at || end > apart.bytes.byteLength) break
    const nodeKeys = keys.slice(start, start + count)
    made.push({ cid: CID.decode(apart.cids.subarray(i * apart.cidWidth, (i + 1) * apart.cidWidth)), bytes: apart.bytes.subarray(at, end), node: packedLeaf(nodeKeys, cids, start, width) })
    start += count
    at = end
  }
  if (start !== keys.length || at !== apart.bytes.byteLength) throw new TreeInputError(`the leaves made apart hold entries ${from} to ${start} of ${keys.length}`)
  return made
}

/**
 * Builds the levels above `nodes` (the complete, non-empty sequence of nodes of one level)
 * until a level has exactly one node, and returns that root.
 */
export function buildUp (nodes: NewNode[], out: NewNode[]): NewNode {
  let level = nodes
  while (level.length > 1) {
    const first = level[0] as NewNode
    level = chunkLevel(level.map(n => n.node.keys[0] as string), level.map(n => n.cid), first.node.level + 1, out)
  }
  const root = level[0]
  if (root === undefined) throw new RangeError('buildUp needs at least one node')
  return root
}

const ABOVE_SURROGATES = /[\uD800-\uFFFF]/

/**
 * Builds the canonical tree of a set of entries (any order). The same set always gives the
 * same root. Returns every node as a block. Throws `TreeInputError` on a duplicate key, a key
 * that is not a well-formed string, or a value that is not a CID.
 */
export function buildTree (entries: Iterable<TreeEntry>): TreeResult {
  const keys: string[] = []
  const values: CID[] = []
  for (const entry of entries) {
    const key = entry.key
    if (typeof key !== 'string') throw new TreeInputError('tree key must be a string')
    const value = CID.asCID(entry.value)
    if (value === null) throw new TreeInputError(`tree value for key ${quoteKey(key)} is not a CID`)
    keys.push(key)
    values.push(value)
  }
  return buildTreeOf(keys, values)
}

/**
 * `buildTree` of entries given as two arrays, `values[i]` the value of `keys[i]` (any order; an
 * array in key order is not copied). Same checks.
 */
export function buildTreeOf (keys: string[], values: CID[]): TreeResult {
  const { sorted, native } = checkKeys(keys)
  if (keys.length === 0) return emptyTree()
  if (!sorted) {
    // Sorting indices allocates nothing per entry. Native (UTF-16) order equals byte order
    // unless a key has a surrogate or a char in U+E000..U+FFFF.
    const k = keys
    const order = Array.from(k, (_, i) => i)
    if (native) order.sort((a, b) => (k[a] as string) < (k[b] as string) ? -1 : (k[a] as string) > (k[b] as string) ? 1 : 0)
    else order.sort((a, b) => compareKeys(k[a] as string, k[b] as string))
    const v = values
    keys = order.map(i => k[i] as string)
    values = order.map(i => v[i] as CID)
    for (let i = 1; i < keys.length; i++) {
      if (keys[i] === keys[i - 1]) throw new TreeInputError(`duplicate tree key ${quoteKey(keys[i] as string)}`)
    }
  }
  const out: NewNode[] = []
  const root = buildUp(chunkLevel(keys, values, 0, out), out)
  return { root: root.cid, blocks: out.map(n => ({ cid: n.cid, bytes: n.bytes })) }
}

/**
 * `buildTreeOf` of entries in strictly ascending key order whose values are CIDs packed in one
 * buffer, `width` bytes each (`cids.subarray(i * width, (i + 1) * width)` the value of
 * `keys[i]`): an import's frames, without a CID object per frame. Throws `TreeInputError` for
 * a key out of order or repeated, or keys that are not well-formed strings.
 */
export function buildTreeOfPacked (keys: string[], cids: Uint8Array, width: number): TreeResult {
  if (cids.byteLength !== keys.length * width) throw new TreeInputError(`${keys.length} keys need ${keys.length * width} bytes of CIDs, not ${cids.byteLength}`)
  const { sorted } = checkKeys(keys)
  if (!sorted) throw new TreeInputError('packed tree entries must be in strictly ascending key order')
  if (keys.length === 0) return emptyTree()
  const leaves = chunkPackedLeaves(keys, cids, width, [])
  const { root, blocks } = treeAbove(leaves)
  return { root, blocks: leaves.map(n => ({ cid: n.cid, bytes: n.bytes })).concat(blocks) }
}

/**
 * Throws for a key that is not a well-formed string; says whether the keys (those from `from` to
 * `to`) are strictly ascending, and all in native order.
 */
function checkKeys (keys: readonly string[], from = 0, to = keys.length): { sorted: boolean, native: boolean } {
  let sorted = true
  let native = true
  let previous: string | undefined
  for (let i = from; i < to; i++) {
    const key = keys[i]
    if (typeof key !== 'string') throw new TreeInputError('tree key must be a string')
    if (ABOVE_SURROGATES.test(key)) {
      if (!isValidKey(key)) throw new TreeInputError('tree key must be a well-formed string not starting with U+FEFF')
      native = false
    }
    if (sorted && previous !== undefined && compareKeys(previous, key) >= 0) sorted = false
    previous = key
  }
  return { sorted, native }
}
