import type { CID } from 'multiformats/cid'
import { TreeInputError } from './errors.ts'
import { ceilIndex, compareKeys, floorIndex } from './keys.ts'
import { valueAt } from './cbor.ts'
import { NodeLoader } from './load.ts'
import type { LoadedNode } from './load.ts'
import type { BlockReader, TreeEntry, TreeNode, TreeRangeOptions, TreeReadOptions } from './types.ts'

/** The value stored under `key`, or undefined. Reads one node per level. */
export async function getEntry (reader: BlockReader, root: CID, key: string, options: TreeReadOptions = {}): Promise<CID | undefined> {
  const loader = new NodeLoader(reader, options.signal)
  let current = await loader.root(root)
  while (current.node.level > 0) {
    const i = floorIndex(current.node.keys, key)
    if (i < 0) return undefined
    current = await loader.child(current, i)
  }
  const { keys, values } = current.node
  const i = ceilIndex(keys, key)
  return keys[i] === key ? values[i] : undefined
}

function checkBound (name: string, value: string | undefined): void {
  if (value !== undefined && (typeof value !== 'string' || !value.isWellFormed())) throw new TreeInputError(`entries option ${name} must be a well-formed string`)
}

/**
 * The entries of a tree in key order, optionally limited to `gte <= key < lt` and to keys
 * starting with `prefix`. Only reads the nodes whose key range meets the requested range.
 */
export async function * entries (reader: BlockReader, root: CID, options: TreeRangeOptions = {}): AsyncGenerator<TreeEntry, void, undefined> {
  const { gte, lt, prefix } = options
  checkBound('gte', gte)
  checkBound('lt', lt)
  checkBound('prefix', prefix)
  let low = gte
  if (prefix !== undefined && (low === undefined || compareKeys(prefix, low) > 0)) low = prefix
  // Keys with a given prefix are contiguous in byte order and start at the prefix itself,
  // so the first key past the range ends the walk.
  const beyond = (key: string): boolean =>
    (lt !== undefined && compareKeys(key, lt) >= 0) ||
    (prefix !== undefined && !key.startsWith(prefix) && compareKeys(key, prefix) > 0)
  const start = (node: TreeNode): number => {
    if (low === undefined) return 0
    return node.level === 0 ? ceilIndex(node.keys, low) : Math.max(0, floorIndex(node.keys, low))
  }

  const loader = new NodeLoader(reader, options.signal)
  const rootNode = await loader.root(root)
  const stack: Array<{ at: LoadedNode, index: number }> = [{ at: rootNode, index: start(rootNode.node) }]
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { at: LoadedNode, index: number }
    const { node } = top.at
    const key = node.keys[top.index]
    if (key === undefined) {
      stack.pop()
      continue
    }
    if (beyond(key)) return
    const index = top.index++
    if (node.level === 0) {
      yield { key, value: valueAt(node, index) }
    } else {
      const child = await loader.child(top.at, index)
      stack.push({ at: child, index: start(child.node) })
    }
  }
}

/**
 * Every node of a tree, depth-first pre-order with children in key order (a deterministic
 * order for export and verification). Checks each child against its parent entry.
 */
export async function * treeNodes (reader: BlockReader, root: CID, options: TreeReadOptions = {}): AsyncGenerator<{ cid: CID, bytes: Uint8Array, node: TreeNode }, void, undefined> {
  const loader = new NodeLoader(reader, options.signal)
  const rootNode = await loader.root(root)
  yield { cid: rootNode.cid, bytes: rootNode.bytes, node: rootNode.node }
  const stack: Array<{ at: LoadedNode, index: number }> = []
  if (rootNode.node.level > 0) stack.push({ at: rootNode, index: 0 })
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { at: LoadedNode, index: number }
    if (top.index >= top.at.node.keys.length) {
      stack.pop()
      continue
    }
    const child = await loader.child(top.at, top.index++)
    yield { cid: child.cid, bytes: child.bytes, node: child.node }
    if (child.node.level > 0) stack.push({ at: child, index: 0 })
  }
}

/** The number of entries in a tree (reads every node). */
export async function countEntries (reader: BlockReader, root: CID, options: TreeReadOptions = {}): Promise<number> {
  let count = 0
  for await (const { node } of treeNodes(reader, root, options)) {
    if (node.level === 0) count += node.keys.length
  }
  return count
}
