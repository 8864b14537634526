import type { CID } from 'multiformats/cid'
import { sameValue, valueAt } from './cbor.ts'
import { compareKeys } from './keys.ts'
import { NodeLoader } from './load.ts'
import type { LoadedNode, NodeCache } from './load.ts'
import type { BlockReader, TreeDiffEntry, TreeNode, TreeReadOptions } from './types.ts'

/**
 * A pending subtree (not yet read) or a leaf entry, as an index into the node that holds it: its
 * CID is made only if the subtree is read or the entry reported (`valueAt`), and compared without
 * being made (`sameValue`).
 */
type Item =
  | { kind: 'tree', node: TreeNode, index: number, level: number, firstKey: string, upper: string | undefined }
  | { kind: 'entry', key: string, node: TreeNode, index: number }

/** Pushes the content of a node onto a frontier (a stack: smallest key on top). */
function pushChildren (stack: Item[], at: LoadedNode): void {
  const { node } = at
  const { level, keys } = node
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i] as string
    if (level === 0) stack.push({ kind: 'entry', key, node, index: i })
    else stack.push({ kind: 'tree', node, index: i, level: level - 1, firstKey: key, upper: keys[i + 1] ?? at.upper })
  }
}

async function expand (loader: NodeLoader, stack: Item[], onRead?: (node: LoadedNode) => void): Promise<void> {
  const item = stack.pop()
  if (item === undefined || item.kind !== 'tree') throw new RangeError('expand needs a subtree on top')
  const loaded = await loader.load(valueAt(item.node, item.index), { level: item.level, firstKey: item.firstKey, upper: item.upper })
  onRead?.(loaded)
  pushChildren(stack, loaded)
}

export interface DiffOptions extends TreeReadOptions {
  /**
   * Called with every node of tree `b` that the diff reads. These are all the nodes of `b` that
   * are not shared with `a` (and a few that are): what a peer holding `a` lacks to read `b`.
   */
  onReadB?: (node: LoadedNode) => void
  /**
   * Decoded nodes of tree `a` kept across diffs that start from the same tree (n trees diffed
   * against one reference decode the reference's nodes once). Tree `b`'s nodes are not kept.
   */
  cacheA?: NodeCache
}

/**
 * The differences from tree `a` to tree `b`, in key order. Subtrees with the same CID on
 * both sides are skipped unread, so it reads O(changes · depth) nodes.
 */
export async function * diffTrees (reader: BlockReader, a: CID, b: CID, options: DiffOptions = {}): AsyncGenerator<TreeDiffEntry, void, undefined> {
  if (a.equals(b)) return
  const loader = new NodeLoader(reader, options.signal)
  const loaderA = options.cacheA === undefined ? loader : new NodeLoader(reader, options.signal, options.cacheA)
  const left: Item[] = []
  const right: Item[] = []
  const onRead = options.onReadB
  pushChildren(left, await loaderA.root(a))
  const rootB = await loader.root(b)
  onRead?.(rootB)
  pushChildren(right, rootB)
  const expandSide = async (stack: Item[]): Promise<void> => { await (stack === right ? expand(loader, stack, onRead) : expand(loaderA, stack)) }
  for (;;) {
    const x = left[left.length - 1]
    const y = right[right.length - 1]
    if (x === undefined && y === undefined) return
    if (y === undefined || x === undefined) {
      const stack = y === undefined ? left : right
      const item = (x ?? y) as Item
      if (item.kind === 'tree') {
        await expandSide(stack)
      } else {
        stack.pop()
        yield y === undefined ? { key: item.key, before: valueAt(item.node, item.index), after: null } : { key: item.key, before: null, after: valueAt(item.node, item.index) }
      }
      continue
    }
    if (x.kind === 'tree' && y.kind === 'tree') {
      if (sameValue(x.node, x.index, y.node, y.index)) {
        left.pop()
        right.pop()
      } else if (x.level !== y.level) {
        await expandSide(x.level > y.level ? left : right)
      } else {
        const order = compareKeys(x.firstKey, y.firstKey)
        if (order <= 0) await expandSide(left)
        if (order >= 0) await expandSide(right)
      }
      continue
    }
    if (x.kind === 'tree' && y.kind === 'entry') {
      // Everything left in `left` starts at or after x.firstKey.
      if (compareKeys(x.firstKey, y.key) > 0) {
        right.pop()
        yield { key: y.key, before: null, after: valueAt(y.node, y.index) }
      } else {
        await expandSide(left)
      }
      continue
    }
    if (x.kind === 'entry' && y.kind === 'tree') {
      if (compareKeys(y.firstKey, x.key) > 0) {
        left.pop()
        yield { key: x.key, before: valueAt(x.node, x.index), after: null }
      } else {
        await expandSide(right)
      }
      continue
    }
    if (x.kind === 'entry' && y.kind === 'entry') {
      const order = compareKeys(x.key, y.key)
      if (order < 0) {
        left.pop()
        yield { key: x.key, before: valueAt(x.node, x.index), after: null }
      } else if (order > 0) {
        right.pop()
        yield { key: y.key, before: null, after: valueAt(y.node, y.index) }
      } else {
        left.pop()
        right.pop()
        if (!sameValue(x.node, x.index, y.node, y.index)) yield { key: x.key, before: valueAt(x.node, x.index), after: valueAt(y.node, y.index) }
      }
    }
  }
}
