import { CID } from 'multiformats/cid'
import { buildUp, emitNode } from './build.ts'
import type { NewNode } from './build.ts'
import { TreeInputError } from './errors.ts'
import { compareKeys, floorIndex, isBoundary, isValidKey } from './keys.ts'
import { NodeLoader } from './load.ts'
import type { LoadedNode } from './load.ts'
import { emptyTree } from './node.ts'
import type { BlockReader, TreeChange, TreeNode, TreeReadOptions, TreeResult } from './types.ts'

interface Change {
  key: string
  value: CID | null
}

/** A path from the root down to one node of the working level; `index` is the child taken. */
type Path = Array<{ at: LoadedNode, index: number }>

/** Validates changes, keeps the last change per key, and sorts them. */
function normalize (changes: Iterable<TreeChange>): Change[] {
  const byKey = new Map<string, CID | null>()
  for (const change of changes) {
    if (!isValidKey(change.key)) throw new TreeInputError('tree key must be a well-formed string not starting with U+FEFF')
    const value = change.value === null ? null : CID.asCID(change.value)
    if (value === null && change.value !== null) throw new TreeInputError('tree change value must be a CID or null')
    byKey.set(change.key, value)
  }
  return [...byKey].map(([key, value]) => ({ key, value })).sort((a, b) => compareKeys(a.key, b.key))
}

/** Descends from the root to the node of `level` that holds `key` (the first node if `key` is below all). */
async function locate (loader: NodeLoader, root: LoadedNode, level: number, key: string): Promise<Path> {
  const path: Path = [{ at: root, index: 0 }]
  let frame = path[0] as Path[number]
  while (frame.at.node.level > level) {
    frame.index = Math.max(0, floorIndex(frame.at.node.keys, key))
    frame = { at: await loader.child(frame.at, frame.index), index: 0 }
    path.push(frame)
  }
  return path
}

/** Moves `path` to the next node of the same level; false at the end of the level. */
async function advance (loader: NodeLoader, path: Path, level: number): Promise<boolean> {
  let depth = path.length - 2
  while (depth >= 0) {
    const frame = path[depth] as Path[number]
    if (frame.index + 1 < frame.at.node.keys.length) break
    depth--
  }
  if (depth < 0) return false
  path.length = depth + 1
  let frame = path[depth] as Path[number]
  frame.index++
  while (frame.at.node.level > level) {
    frame = { at: await loader.child(frame.at, frame.index), index: 0 }
    path.push(frame)
  }
  return true
}

/** Result of applying one level's changes. */
interface LevelResult {
  /** Changes for the level above (sorted). */
  next: Change[]
  /** The new nodes of this level that replace old ones (all of them at the root level). */
  made: NewNode[]
  changed: boolean
}

/**
 * Applies sorted changes to one level of the old tree. Each run starts at the node a change
 * routes to (the previous node ends on a boundary, so the canonical cut there is unchanged),
 * re-chunks it with its changes, and absorbs following nodes until a piece ends on a boundary.
 */
async function applyLevel (loader: NodeLoader, root: LoadedNode, level: number, changes: Change[], out: NewNode[]): Promise<LevelResult> {
  const next = new Map<string, CID | null>()
  const made: NewNode[] = []
  let changed = false
  let ci = 0
  while (ci < changes.length) {
    const path = await locate(loader, root, level, (changes[ci] as Change).key)
    const replaced: LoadedNode[] = []
    const pieces: NewNode[] = []
    let keys: string[] = []
    let values: CID[] = []
    const push = (key: string, value: CID): void => {
      keys.push(key)
      values.push(value)
      if (isBoundary(key, level)) {
        pieces.push(emitNode({ level, keys, values }, out))
        keys = []
        values = []
      }
    }
    for (;;) {
      const current = (path[path.length - 1] as Path[number]).at
      replaced.push(current)
      const old = current.node
      const upper = current.upper
      let j = 0
      while (ci < changes.length) {
        const change = changes[ci] as Change
        if (upper !== undefined && compareKeys(change.key, upper) >= 0) break
        ci++
        while (j < old.keys.length && compareKeys(old.keys[j] as string, change.key) < 0) {
          push(old.keys[j] as string, old.values[j] as CID)
          j++
        }
        if (old.keys[j] === change.key) j++
        if (change.value !== null) push(change.key, change.value)
      }
      for (; j < old.keys.length; j++) push(old.keys[j] as string, old.values[j] as CID)
      if (keys.length === 0) break
      if (upper === undefined || !await advance(loader, path, level)) {
        pieces.push(emitNode({ level, keys, values }, out))
        break
      }
    }
    if (pieces.length === replaced.length && pieces.every((p, i) => p.cid.equals((replaced[i] as LoadedNode).cid))) continue
    changed = true
    for (const old of replaced) {
      const first = old.node.keys[0]
      if (first !== undefined && !next.has(first)) next.set(first, null)
    }
    for (const piece of pieces) {
      next.set(piece.node.keys[0] as string, piece.cid)
      made.push(piece)
    }
  }
  const sorted = [...next].map(([key, value]) => ({ key, value })).sort((a, b) => compareKeys(a.key, b.key))
  return { next: sorted, made, changed }
}

/** The new nodes reachable from `root` through new internal nodes, excluding nodes the old tree already had. */
function reachable (root: CID, out: Map<string, NewNode>, loader: NodeLoader): NewNode[] {
  const result: NewNode[] = []
  const seen = new Set<string>()
  const stack: CID[] = [root]
  for (let cid = stack.pop(); cid !== undefined; cid = stack.pop()) {
    const id = cid.toString()
    if (seen.has(id)) continue
    seen.add(id)
    const made = out.get(id)
    if (made === undefined || loader.has(cid)) continue
    result.push(made)
    if (made.node.level > 0) stack.push(...made.node.values)
  }
  return result
}

/**
 * Applies a batch of changes (`value: null` removes; the last change per key wins; any order)
 * and returns the new root with the new blocks (not written: persist them in one batch).
 * The result equals `buildTree` of the resulting set. Reads O(changes · depth) nodes.
 * Throws `TreeInputError` for a malformed change and `TreeError` for a malformed tree.
 */
export async function mutateTree (reader: BlockReader, root: CID, changes: Iterable<TreeChange>, options: TreeReadOptions = {}): Promise<TreeResult> {
  let pending = normalize(changes)
  const loader = new NodeLoader(reader, options.signal, true)
  const oldRoot = await loader.root(root)
  const out: NewNode[] = []
  const top = oldRoot.node.level
  let made: NewNode[] = []
  for (let level = 0; level <= top; level++) {
    if (pending.length === 0) return { root, blocks: [] }
    const result = await applyLevel(loader, oldRoot, level, pending, out)
    if (!result.changed) return { root, blocks: [] }
    pending = result.next
    made = result.made
  }
  if (made.length === 0) return oldRoot.node.keys.length === 0 ? { root, blocks: [] } : emptyTree()
  let newRoot: { cid: CID, node: TreeNode } = buildUp(made, out)
  const byCid = new Map(out.map(n => [n.cid.toString(), n]))
  // Levels above the first single-node level hold one single-entry node each: drop them.
  while (newRoot.node.level > 0 && newRoot.node.keys.length === 1) {
    const cid = newRoot.node.values[0] as CID
    newRoot = byCid.get(cid.toString()) ??
      await loader.load(cid, { level: newRoot.node.level - 1, firstKey: newRoot.node.keys[0] as string })
  }
  const blocks = reachable(newRoot.cid, byCid, loader).map(n => ({ cid: n.cid, bytes: n.bytes }))
  return { root: newRoot.cid, blocks }
}
