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

/** `chunkLevel` of the leaves, their values packed CIDs. */
function chunkPackedLeaves (keys: readonly string[], cids: Uint8Array, width: number, out: NewNode[]): NewNode[] {
  const made: NewNode[] = []
  let start = 0
  for (let i = 0; i < keys.length; i++) {
    if (isBoundary(keys[i] as string, 0) || i === keys.length - 1) {
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
  const out: NewNode[] = []
  const root = buildUp(chunkPackedLeaves(keys, cids, width, out), out)
  return { root: root.cid, blocks: out.map(n => ({ cid: n.cid, bytes: n.bytes })) }
}

/** Throws for a key that is not a well-formed string; says whether the keys are strictly ascending, and all in native order. */
function checkKeys (keys: readonly string[]): { sorted: boolean, native: boolean } {
  let sorted = true
  let native = true
  let previous: string | undefined
  for (const key of keys) {
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
